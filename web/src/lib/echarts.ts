// The parts of ECharts the console uses (tree-shaken).
import * as echarts from "echarts/core";
import { LineChart, PieChart, SankeyChart, BarChart, HeatmapChart } from "echarts/charts";
import {
  GridComponent, TooltipComponent, LegendComponent, BrushComponent, ToolboxComponent,
  TitleComponent, AxisPointerComponent, GraphicComponent, VisualMapComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([
  LineChart, PieChart, SankeyChart, BarChart, HeatmapChart, GridComponent, TooltipComponent,
  LegendComponent, BrushComponent, ToolboxComponent, TitleComponent, AxisPointerComponent,
  GraphicComponent, VisualMapComponent, CanvasRenderer,
]);

export { echarts };

/** Series colors, readable on light and dark backgrounds; "Other" gets grey. */
export const palette = [
  "#0d9488", "#6366f1", "#f59e0b", "#ef4444", "#10b981", "#ec4899", "#3b82f6", "#84cc16",
  "#a855f7", "#f97316", "#14b8a6", "#eab308", "#06b6d4", "#d946ef", "#22c55e", "#f43f5e",
];
export const otherColor = "#94a3b8";
/** Akvorado's heatmap colors (magma), from the smallest value to the largest, on a light page. */
export const magma = ["#fcfdbf", "#fc8961", "#b73779", "#51127c", "#000004"];
