// A horizontal bar chart drawn as inline SVG (no charting library): one bar per row,
// a vertical line at the threshold. Labels are SVG text nodes (textContent, never markup).
import { svg } from "./dom.js";

export function barChart({ rows, threshold, title, valueLabel }) {
  // rows: [{label, value, kind: "reference" | "impostor" | "other"}]
  const values = rows.map((r) => r.value).filter((v) => Number.isFinite(v));
  if (Number.isFinite(threshold)) values.push(threshold);
  let lo = Math.min(0, ...values);
  let hi = Math.max(0, ...values);
  if (hi - lo < 1e-9) hi = lo + 1;
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const labelW = 130;
  const plotW = 360;
  const rowH = 26;
  const top = 28;
  const height = top + rows.length * rowH + 26;
  const width = labelW + plotW + 60;
  const x = (v) => labelW + ((v - lo) / (hi - lo)) * plotW;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "aria-label": title,
    class: "chart",
    preserveAspectRatio: "xMinYMin meet",
  });
  chart.append(svg("title", {}, title));
  chart.append(svg("text", { x: labelW, y: 16, class: "chart-axis" }, valueLabel));
  chart.append(svg("line", { x1: x(0), x2: x(0), y1: top - 4, y2: height - 22, class: "chart-zero" }));
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    chart.append(svg("text", { x: labelW - 8, y: y + 16, "text-anchor": "end", class: "chart-label" }, row.label));
    if (Number.isFinite(row.value)) {
      const x0 = x(Math.min(0, row.value));
      const w = Math.max(1, Math.abs(x(row.value) - x(0)));
      chart.append(svg("rect", { x: x0, y: y + 4, width: w, height: rowH - 8, class: `bar bar-${row.kind}` }));
      const tx = row.value >= 0 ? x(row.value) + 4 : x(row.value) - 4;
      chart.append(
        svg("text", { x: tx, y: y + 17, "text-anchor": row.value >= 0 ? "start" : "end", class: "chart-value" },
          row.value.toFixed(2)),
      );
    }
  });
  if (Number.isFinite(threshold)) {
    const tx = x(threshold);
    chart.append(svg("line", { x1: tx, x2: tx, y1: top - 6, y2: height - 20, class: "chart-threshold" }));
    chart.append(
      svg("text", { x: tx, y: height - 6, "text-anchor": "middle", class: "chart-threshold-label" },
        `threshold ${threshold.toFixed(2)}`),
    );
  }
  return chart;
}

/** A one-line gauge: where the score falls against the threshold. */
export function scoreGauge(score, threshold) {
  const lo = Math.min(score, threshold) - 1.5;
  const hi = Math.max(score, threshold) + 1.5;
  const W = 300;
  const x = (v) => 10 + ((v - lo) / (hi - lo)) * (W - 20);
  const accept = score >= threshold;
  return svg(
    "svg",
    { viewBox: `0 0 ${W} 44`, role: "img", class: "gauge", "aria-label": `score ${score.toFixed(2)}, threshold ${threshold.toFixed(2)}` },
    svg("rect", { x: 10, y: 14, width: W - 20, height: 8, class: "gauge-track" }),
    svg("rect", { x: x(threshold), y: 14, width: W - 10 - x(threshold), height: 8, class: "gauge-accept" }),
    svg("line", { x1: x(threshold), x2: x(threshold), y1: 6, y2: 30, class: "chart-threshold" }),
    svg("circle", { cx: x(score), cy: 18, r: 7, class: accept ? "gauge-dot-accept" : "gauge-dot-reject" }),
    svg("text", { x: x(threshold), y: 42, "text-anchor": "middle", class: "chart-threshold-label" }, "threshold"),
  );
}
