#pragma once
// A minimal SVG line plot (no dependency): one or more named series of
// (x, y) points on shared axes, with ticks and a legend, and horizontal
// reference lines (a baseline). The y axis spans the series, not [0, max]:
// the differences it exists to show are a few percent of the values. A
// reference line far outside them (popularity, under every model) would
// flatten them again, so it is drawn at the axis' edge and its legend says so.
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace slmrec::pipeline {

enum class marker { circle, square };

struct series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
  bool line = true;
  marker shape = marker::circle;
};

struct reference_line {
  std::string name, color;
  double y = 0;
};

// The y range drawn: every point of the series (the reference lines only
// when there is none), with a tenth of the span as margin on each side (a
// single value gets +-10% of itself).
inline std::pair<double, double> y_range(const std::vector<series>& all, const std::vector<reference_line>& refs) {
  double lo = 1e300, hi = -1e300;
  for (const auto& s : all)
    for (auto [x, y] : s.points) lo = std::min(lo, y), hi = std::max(hi, y);
  if (lo > hi)
    for (const auto& r : refs) lo = std::min(lo, r.y), hi = std::max(hi, r.y);
  if (lo > hi) return {0.0, 1.0};
  const double span = hi - lo, pad = span > 0 ? 0.1 * span : std::max(0.1 * std::abs(hi), 1e-3);
  return {lo - pad, hi + pad};
}

inline std::string svg_plot(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                            const std::vector<series>& all, const std::vector<reference_line>& refs = {}) {
  const double w = 640, h = 400, left = 70, right = 210, top = 40, bottom = 50;
  double xmin = 1e300, xmax = -1e300;
  for (const auto& s : all)
    for (auto [x, y] : s.points) xmin = std::min(xmin, x), xmax = std::max(xmax, x);
  if (xmax <= xmin) xmax = xmin + 1;
  const auto yr = y_range(all, refs);
  const double ymin = yr.first, ymax = yr.second;
  auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * (w - left - right); };
  auto py = [&](double y) { return h - bottom - (y - ymin) / (ymax - ymin) * (h - top - bottom); };
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
      w, h, (w - right + left) / 2, title);
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", left, h - bottom,
                     w - right);
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", left, h - bottom, top);
  for (int i = 0; i <= 5; ++i) {
    const double y = ymin + (ymax - ymin) * i / 5.0;
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.4f}</text>\n", left - 6, py(y) + 4, y);
    out += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", left, py(y),
                       w - right, py(y));
  }
  std::vector<double> xs;
  for (const auto& s : all)
    for (auto [x, y] : s.points) xs.push_back(x);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  for (double x : xs)
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", px(x), h - bottom + 18, x);
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (w - right + left) / 2, h - 10,
                     xlabel);
  out += fmt::format("<text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">{}</text>\n",
                     (h - bottom + top) / 2, (h - bottom + top) / 2, ylabel);
  auto dot = [](marker m, double x, double y, const std::string& color) {
    if (m == marker::square)
      return fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"10\" height=\"10\" fill=\"{}\"/>\n", x - 5, y - 5,
                         color);
    return fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\"/>\n", x, y, color);
  };
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& s = all[i];
    if (s.line && s.points.size() > 1) {
      std::string pts;
      for (auto [x, y] : s.points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
      out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", pts, s.color);
    }
    for (auto [x, y] : s.points) out += dot(s.shape, px(x), py(y), s.color);
    const double ly = top + 20 + 20 * double(i);
    out += dot(s.shape, w - right + 20, ly, s.color);
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", w - right + 32, ly + 4, s.name);
  }
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& r = refs[i];
    const double y = std::clamp(r.y, ymin, ymax);
    const char* where = r.y < ymin ? ", below the axis" : r.y > ymax ? ", above the axis" : "";
    out += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"1.5\" "
                       "stroke-dasharray=\"6 4\"/>\n",
                       left, py(y), w - right, py(y), r.color);
    const double ly = top + 20 + 20 * double(all.size() + i);
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-dasharray=\"6 4\"/>"
                       "<text x=\"{}\" y=\"{}\">{} ({:.4f}{})</text>\n",
                       w - right + 12, ly, w - right + 28, ly, r.color, w - right + 32, ly + 4, r.name, r.y, where);
  }
  return out + "</svg>\n";
}

}  // namespace slmrec::pipeline
