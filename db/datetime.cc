#include "db/datetime.h"

#include <cstdio>

namespace tqdb {
namespace {

constexpr int64_t kMicrosPerSecond = 1000000;
constexpr int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;

// Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
// (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Its inverse.
void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yoe + era * 400 + (*m <= 2);
}

bool Leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && Leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at text[*i] into *out.
bool Digits(absl::string_view text, size_t* i, size_t n, int64_t* out) {
  if (*i + n > text.size()) return false;
  int64_t v = 0;
  for (size_t k = 0; k < n; ++k) {
    const char c = text[*i + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

bool Char(absl::string_view text, size_t* i, char c) {
  if (*i >= text.size() || text[*i] != c) return false;
  ++*i;
  return true;
}

}  // namespace

std::optional<int64_t> ParseDatetime(absl::string_view text) {
  size_t i = 0;
  int64_t y, mo, d, h = 0, mi = 0, s = 0, micros = 0, offset_minutes = 0;
  if (!Digits(text, &i, 4, &y) || !Char(text, &i, '-') ||
      !Digits(text, &i, 2, &mo) || !Char(text, &i, '-') ||
      !Digits(text, &i, 2, &d)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) {
    return std::nullopt;
  }
  if (i < text.size()) {
    const char sep = text[i++];
    if (sep != 'T' && sep != 't' && sep != ' ') return std::nullopt;
    if (!Digits(text, &i, 2, &h) || !Char(text, &i, ':') ||
        !Digits(text, &i, 2, &mi)) {
      return std::nullopt;
    }
    if (Char(text, &i, ':')) {
      if (!Digits(text, &i, 2, &s)) return std::nullopt;
      if (Char(text, &i, '.')) {
        size_t n = 0;
        int64_t scale = 100000;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
          if (n < 6) {
            micros += (text[i] - '0') * scale;
            scale /= 10;
          }
          ++n, ++i;
        }
        if (n < 1 || n > 9) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || s > 59) return std::nullopt;
    if (i < text.size()) {
      const char z = text[i++];
      if (z == '+' || z == '-') {
        int64_t oh, om;
        if (!Digits(text, &i, 2, &oh)) return std::nullopt;
        Char(text, &i, ':');
        if (!Digits(text, &i, 2, &om) || oh > 23 || om > 59) {
          return std::nullopt;
        }
        offset_minutes = (z == '+' ? 1 : -1) * (oh * 60 + om);
      } else if (z != 'Z' && z != 'z') {
        return std::nullopt;
      }
    }
    if (i != text.size()) return std::nullopt;
  }
  return DaysFromCivil(y, mo, d) * kMicrosPerDay +
         ((h * 60 + mi - offset_minutes) * 60 + s) * kMicrosPerSecond + micros;
}

std::string FormatDatetime(int64_t micros) {
  int64_t days = micros / kMicrosPerDay, rest = micros % kMicrosPerDay;
  if (rest < 0) rest += kMicrosPerDay, --days;
  int64_t y, m, d;
  CivilFromDays(days, &y, &m, &d);
  const int64_t secs = rest / kMicrosPerSecond, frac = rest % kMicrosPerSecond;
  char buf[64];
  if (frac == 0) {
    std::snprintf(
        buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
        static_cast<long long>(y), static_cast<long long>(m),
        static_cast<long long>(d), static_cast<long long>(secs / 3600),
        static_cast<long long>(secs / 60 % 60),
        static_cast<long long>(secs % 60));
  } else {
    std::snprintf(
        buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%06lldZ",
        static_cast<long long>(y), static_cast<long long>(m),
        static_cast<long long>(d), static_cast<long long>(secs / 3600),
        static_cast<long long>(secs / 60 % 60),
        static_cast<long long>(secs % 60), static_cast<long long>(frac));
  }
  return buf;
}

}  // namespace tqdb
