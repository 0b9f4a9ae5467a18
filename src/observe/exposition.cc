#include "observe/exposition.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace strait::observe {
namespace {

bool IsNameChar(char c, bool first, bool colon) {
  return absl::ascii_isalpha(c) || c == '_' || (colon && c == ':') ||
         (!first && absl::ascii_isdigit(c));
}

bool IsValidName(absl::string_view name, bool colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, colon)) return false;
  }
  return true;
}

// # HELP text: backslash and newline escaped.
void AppendHelp(std::string* out, absl::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

// A label value: backslash, double quote and newline escaped, invalid UTF-8
// replaced.
void AppendLabelValue(std::string* out, absl::string_view value) {
  size_t i = 0;
  while (i < value.size()) {
    const char c = value[i];
    const size_t length = Utf8SequenceLength(value.substr(i));
    if (length == 0) {
      out->append(kUtf8Replacement.data(), kUtf8Replacement.size());
      ++i;
      continue;
    }
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '"') {
      out->append("\\\"");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->append(value.data() + i, length);
    }
    i += length;
  }
}

// {a="x",b="y"} with an optional trailing le="..."; nothing for no labels.
void AppendLabels(std::string* out, const std::vector<std::pair<std::string, std::string>>& labels,
                  absl::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out->push_back('{');
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, name, "=\"");
    AppendLabelValue(out, value);
    out->push_back('"');
  }
  if (!le.empty()) absl::StrAppend(out, first ? "" : ",", "le=\"", le, "\"");
  out->push_back('}');
}

void AppendSample(std::string* out, absl::string_view name,
                  const std::vector<std::pair<std::string, std::string>>& labels, double value,
                  absl::string_view le = {}) {
  out->append(name.data(), name.size());
  AppendLabels(out, labels, le);
  absl::StrAppend(out, " ", FormatSampleValue(value), "\n");
}

}  // namespace

std::string FormatSampleValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Every integer below 2^53 is exact in a double; write it as one.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  // %g-style (as Go's FormatFloat(v, 'g', -1)): "0.0005", not "5e-04".
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::general);
  return std::string(buffer, result.ptr);
}

absl::string_view Exposition::TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

bool IsValidMetricName(absl::string_view name) { return IsValidName(name, /*colon=*/true); }

bool IsValidLabelName(absl::string_view name) {
  return IsValidName(name, /*colon=*/false) && !absl::StartsWith(name, "__");
}

void Exposition::Fail(absl::Status status) {
  if (status_.ok()) status_ = std::move(status);
}

Exposition::Series* Exposition::FindSeries(absl::string_view name, absl::string_view help,
                                           Type type, absl::Span<const Label> labels) {
  if (!IsValidMetricName(name)) {
    Fail(absl::InvalidArgumentError(absl::StrCat("metric name \"", name, "\" is not valid")));
    return nullptr;
  }
  if ((type == Type::kCounter) != absl::EndsWith(name, "_total")) {
    Fail(absl::InvalidArgumentError(
        absl::StrCat(name, ": counters' names, and only theirs, end in _total")));
    return nullptr;
  }
  SortedLabels sorted;
  sorted.reserve(labels.size());
  for (const Label& label : labels) {
    if (!IsValidLabelName(label.name) || (type == Type::kHistogram && label.name == "le")) {
      Fail(absl::InvalidArgumentError(
          absl::StrCat(name, ": label name \"", label.name, "\" is not valid")));
      return nullptr;
    }
    sorted.emplace_back(std::string(label.name), std::string(label.value));
  }
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].first == sorted[i - 1].first) {
      Fail(absl::InvalidArgumentError(
          absl::StrCat(name, ": label \"", sorted[i].first, "\" given twice")));
      return nullptr;
    }
  }
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  } else if (it->second.type != type || it->second.help != help) {
    Fail(absl::InvalidArgumentError(absl::StrCat(name, ": added again with another type or help")));
    return nullptr;
  }
  return &it->second.series[std::move(sorted)];
}

void Exposition::Counter(absl::string_view name, absl::string_view help,
                         absl::Span<const Label> labels, double value) {
  if (!(value >= 0)) {
    Fail(absl::InvalidArgumentError(absl::StrCat(name, ": a counter cannot be ", value)));
    return;
  }
  if (Series* series = FindSeries(name, help, Type::kCounter, labels)) series->value += value;
}

void Exposition::Gauge(absl::string_view name, absl::string_view help,
                       absl::Span<const Label> labels, double value) {
  if (Series* series = FindSeries(name, help, Type::kGauge, labels)) series->value += value;
}

void Exposition::Histogram(absl::string_view name, absl::string_view help,
                           absl::Span<const Label> labels, const observe::Histogram& histogram) {
  if (Series* series = FindSeries(name, help, Type::kHistogram, labels)) {
    series->histogram.Add(histogram);
  }
}

absl::StatusOr<std::string> Exposition::Take() {
  auto families = std::move(families_);
  families_.clear();
  absl::Status status = std::exchange(status_, absl::OkStatus());
  if (!status.ok()) return status;

  static const std::vector<std::string> kLe = [] {
    std::vector<std::string> le;
    for (double bound : observe::Histogram::kBounds) le.push_back(FormatSampleValue(bound));
    le.push_back("+Inf");
    return le;
  }();
  std::string out;
  for (const auto& [name, family] : families) {
    absl::StrAppend(&out, "# HELP ", name, " ");
    AppendHelp(&out, family.help);
    absl::StrAppend(&out, "\n# TYPE ", name, " ", TypeName(family.type), "\n");
    for (const auto& [labels, series] : family.series) {
      if (family.type != Type::kHistogram) {
        AppendSample(&out, name, labels, series.value);
        continue;
      }
      const std::string bucket = absl::StrCat(name, "_bucket");
      uint64_t cumulative = 0;
      for (size_t i = 0; i < observe::Histogram::kBucketCount; ++i) {
        cumulative += series.histogram.bucket_counts()[i];
        AppendSample(&out, bucket, labels, static_cast<double>(cumulative), kLe[i]);
      }
      AppendSample(&out, absl::StrCat(name, "_sum"), labels, series.histogram.sum());
      AppendSample(&out, absl::StrCat(name, "_count"), labels,
                   static_cast<double>(series.histogram.count()));
    }
  }
  return out;
}

}  // namespace strait::observe
