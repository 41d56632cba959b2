#pragma once
// A minimal SVG line plot (no dependency): one or more named series of
// (x, y) points on shared axes, with ticks and a legend.
#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace slmrec::pipeline {

struct series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
  bool line = true;
};

inline std::string svg_plot(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                            const std::vector<series>& all) {
  const double w = 640, h = 400, left = 70, right = 170, top = 40, bottom = 50;
  double xmin = 1e300, xmax = -1e300, ymin = 0, ymax = -1e300;
  for (const auto& s : all)
    for (auto [x, y] : s.points) {
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymax = std::max(ymax, y);
    }
  if (xmax <= xmin) xmax = xmin + 1;
  if (ymax <= ymin) ymax = ymin + 1;
  ymax *= 1.1;
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
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{:.3f}</text>\n", left - 6, py(y) + 4, y);
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
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto& s = all[i];
    if (s.line && s.points.size() > 1) {
      std::string pts;
      for (auto [x, y] : s.points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
      out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", pts, s.color);
    }
    for (auto [x, y] : s.points)
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"{}\"/>\n", px(x), py(y), s.color);
    const double ly = top + 20 + 20 * double(i);
    out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>\n",
                       w - right + 20, ly, s.color, w - right + 32, ly + 4, s.name);
  }
  return out + "</svg>\n";
}

}  // namespace slmrec::pipeline
