# Shared by the scripts here: `admin METHOD JSON` calls strait.admin.v1.Admin
# with grpcurl (no .proto files needed: strait serves reflection).
#   ADMIN  the admin address (default 127.0.0.1:9901)
#   TOKEN  the admin token, when strait runs with --admin-token-file
ADMIN=${ADMIN:-127.0.0.1:9901}
command -v grpcurl >/dev/null || {
  echo "grpcurl is needed: https://github.com/fullstorydev/grpcurl/releases" >&2
  exit 1
}
admin() {
  local auth=()
  if [ -n "${TOKEN:-}" ]; then auth=(-H "authorization: Bearer $TOKEN"); fi
  grpcurl -plaintext "${auth[@]}" -d "$2" "$ADMIN" "strait.admin.v1.Admin/$1"
}
# The running configuration's version (grpcurl prints uint64 as a string).
running_version() {
  admin GetConfig '{}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])'
}
