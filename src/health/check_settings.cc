#include "health/check_settings.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace strait::health {

std::string CheckSettings::Key() const {
  // Strings are escaped and quoted, so no value can imitate a separator.
  return absl::StrCat(mode == CheckMode::kGrpc ? "grpc" : "http",     //
                      " service=\"", absl::CEscape(service), "\"",    //
                      " path=\"", absl::CEscape(path), "\"",          //
                      " port=", port,                                 //
                      " hostname=\"", absl::CEscape(hostname), "\"",  //
                      " interval=", absl::FormatDuration(interval),   //
                      " unhealthy_interval=",
                      absl::FormatDuration(EffectiveUnhealthyInterval()),  //
                      " timeout=", absl::FormatDuration(timeout),          //
                      " watch=", watch,                                    //
                      " healthy_threshold=", healthy_threshold,            //
                      " unhealthy_threshold=", unhealthy_threshold,        //
                      " initially_healthy=", initially_healthy,            //
                      " dial_timeout=", absl::FormatDuration(dial_timeout));
}

}  // namespace strait::health
