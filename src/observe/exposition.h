#ifndef STRAIT_OBSERVE_EXPOSITION_H_
#define STRAIT_OBSERVE_EXPOSITION_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "observe/histogram.h"

namespace strait::observe {

// One label of a sample; the strings need only live during the call.
struct Label {
  absl::string_view name;
  absl::string_view value;
};

// Writes the Prometheus text exposition format, version 0.0.4
// (prometheus.io/docs/instrumenting/exposition_formats). Samples are
// collected by family, so a family's # HELP / # TYPE is written once however
// many calls add to it, and Take() writes families sorted by name and the
// series of a family sorted by their labels (sorted by name), so that the
// same values always give the same text.
//
// A second sample with the same name and labels is *added* to the first
// (values summed, histograms merged): the scrape can add each worker's
// counters as they come instead of summing them first.
//
// Names are strait's own constants, so a bad one is a bug: the sample is
// skipped and Take() reports the first such error. Label *values* may be
// anything (escaped; invalid UTF-8 becomes U+FFFD, which Prometheus would
// otherwise reject).
//
// Not thread-safe: one Exposition per scrape, on one thread.
class Exposition {
 public:
  // `name` must end in "_total"; `value` >= 0.
  void Counter(absl::string_view name, absl::string_view help, absl::Span<const Label> labels,
               double value);
  void Gauge(absl::string_view name, absl::string_view help, absl::Span<const Label> labels,
             double value);
  // `name` is the base name ("strait_rpc_duration_seconds"); writes its
  // cumulative _bucket{le=...} series including le="+Inf", _sum and _count.
  // `labels` may not contain "le".
  void Histogram(absl::string_view name, absl::string_view help, absl::Span<const Label> labels,
                 const observe::Histogram& histogram);

  // The text, or the first misuse (bad name, a family added with two
  // types or helps); either way the Exposition is empty again afterwards.
  absl::StatusOr<std::string> Take();

 private:
  enum class Type {
    kCounter,    // a monotonic count, name ends in _total
    kGauge,      // a value that goes up and down
    kHistogram,  // buckets + sum + count
  };
  using SortedLabels = std::vector<std::pair<std::string, std::string>>;
  struct Series {
    double value = 0;              // counters and gauges
    observe::Histogram histogram;  // histograms
  };
  struct Family {
    Type type;
    std::string help;
    std::map<SortedLabels, Series> series;
  };

  static absl::string_view TypeName(Type type);
  // The series to add to, or nullptr (and status_ set) on misuse.
  Series* FindSeries(absl::string_view name, absl::string_view help, Type type,
                     absl::Span<const Label> labels);
  void Fail(absl::Status status);

  std::map<std::string, Family, std::less<>> families_;
  absl::Status status_;
};

// A sample value as Prometheus writes it: integers without exponent or
// fraction ("42"), others in the shortest form that reads back exactly
// ("0.0005"), "+Inf", "-Inf", "NaN".
std::string FormatSampleValue(double value);

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool IsValidMetricName(absl::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (reserved by Prometheus).
bool IsValidLabelName(absl::string_view name);

}  // namespace strait::observe

#endif  // STRAIT_OBSERVE_EXPOSITION_H_
