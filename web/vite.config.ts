/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";
import tailwindcss from "@tailwindcss/vite";

// `npm run dev` proxies the API to a running akvo (make run): AKVO_API overrides the address.
export default defineConfig({
  // Relative URLs everywhere: under console.url-prefix, akvo's <base href> decides where they go.
  base: "./",
  plugins: [vue(), tailwindcss()],
  server: {
    proxy: { "/api": process.env.AKVO_API ?? "http://127.0.0.1:8081" },
    fs: { allow: [".."] },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        manualChunks: {
          echarts: ["echarts/core", "echarts/charts", "echarts/components", "echarts/renderers"],
          codemirror: ["@codemirror/state", "@codemirror/view", "@codemirror/language", "@codemirror/autocomplete", "@codemirror/lint", "@codemirror/commands"],
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
