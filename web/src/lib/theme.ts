// Dark mode: follows the system unless forced; the choice is remembered in localStorage.
import { ref, watch } from "vue";

export type ThemeChoice = "system" | "light" | "dark";
const key = "akvo-theme";

function stored(): ThemeChoice {
  const v = typeof localStorage === "undefined" ? null : localStorage.getItem(key);
  return v === "light" || v === "dark" ? v : "system";
}

export const themeChoice = ref<ThemeChoice>(stored());
export const isDark = ref(false);

function systemDark(): boolean {
  return typeof window !== "undefined" && !!window.matchMedia?.("(prefers-color-scheme: dark)").matches;
}

function apply() {
  isDark.value = themeChoice.value === "dark" || (themeChoice.value === "system" && systemDark());
  document.documentElement.classList.toggle("dark", isDark.value);
}

export function initTheme() {
  apply();
  window.matchMedia?.("(prefers-color-scheme: dark)").addEventListener?.("change", apply);
  watch(themeChoice, (v) => {
    if (v === "system") localStorage.removeItem(key);
    else localStorage.setItem(key, v);
    apply();
  });
}

/** system → dark → light → system. */
export function cycleTheme() {
  themeChoice.value = themeChoice.value === "system" ? (systemDark() ? "light" : "dark") : themeChoice.value === "dark" ? "light" : "system";
}
