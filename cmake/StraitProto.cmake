# strait_proto_library(NAME ROOT <dir> PROTOS <rel paths...> [GRPC] [DEPS <targets>])
#
# Generates C++ (and, with GRPC, gRPC C++ stubs) at build time from .proto
# files below ROOT, and wraps them in a static library NAME whose include
# directory is the generated tree (so `#include "strait/config/v1/config.pb.h"`).
function(strait_proto_library NAME)
  cmake_parse_arguments(ARG "GRPC" "ROOT" "PROTOS;DEPS;IMPORTS" ${ARGN})
  set(out_dir "${CMAKE_BINARY_DIR}/gen")
  file(MAKE_DIRECTORY "${out_dir}")
  set(srcs)
  set(import_flags -I "${ARG_ROOT}")
  foreach(imp ${ARG_IMPORTS})
    list(APPEND import_flags -I "${imp}")
  endforeach()
  foreach(rel ${ARG_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" base "${rel}")
    set(outs "${out_dir}/${base}.pb.cc" "${out_dir}/${base}.pb.h")
    set(plugin_args)
    if(ARG_GRPC)
      list(APPEND outs "${out_dir}/${base}.grpc.pb.cc" "${out_dir}/${base}.grpc.pb.h")
      set(plugin_args --grpc_out "${out_dir}"
          --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    endif()
    add_custom_command(
      OUTPUT ${outs}
      COMMAND protobuf::protoc ARGS --cpp_out "${out_dir}" ${plugin_args}
              ${import_flags} "${ARG_ROOT}/${rel}"
      DEPENDS "${ARG_ROOT}/${rel}" protobuf::protoc
      COMMENT "protoc ${rel}"
      VERBATIM)
    list(APPEND srcs ${outs})
  endforeach()
  add_library(${NAME} STATIC ${srcs})
  target_include_directories(${NAME} PUBLIC "${out_dir}")
  target_link_libraries(${NAME} PUBLIC protobuf::libprotobuf ${ARG_DEPS})
  if(ARG_GRPC)
    target_link_libraries(${NAME} PUBLIC gRPC::grpc++)
  endif()
  target_compile_options(${NAME} PRIVATE -w)
endfunction()
