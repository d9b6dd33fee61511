import { createRouter, createWebHistory } from "vue-router";
import HomeView from "./views/HomeView.vue";

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: "/", name: "home", component: HomeView },
    { path: "/visualize/:state?", name: "visualize", component: () => import("./views/VisualizeView.vue") },
    { path: "/docs/:name?", name: "docs", component: () => import("./views/DocsView.vue") },
    { path: "/:rest(.*)*", name: "notfound", component: () => import("./views/NotFound.vue") },
  ],
  scrollBehavior(to) {
    if (to.hash) return { el: to.hash, top: 70 };
    return { top: 0 };
  },
});
