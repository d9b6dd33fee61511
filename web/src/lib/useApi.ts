// A request with its loading and error state, optionally refreshed on a cadence.
import { onBeforeUnmount, onMounted, ref, shallowRef, type Ref } from "vue";
import { api } from "./api";

export function useApi<T>(path: string | (() => string), refreshSeconds = 0) {
  const data = shallowRef<T | null>(null) as Ref<T | null>;
  const error = ref<string | null>(null);
  const loading = ref(false);
  let timer: ReturnType<typeof setInterval> | undefined;
  let controller: AbortController | undefined;
  async function load() {
    controller?.abort();
    controller = new AbortController();
    loading.value = true;
    try {
      data.value = await api<T>(typeof path === "function" ? path() : path, { signal: controller.signal });
      error.value = null;
    } catch (e) {
      if ((e as Error).name === "AbortError") return;
      error.value = (e as Error).message;
    } finally {
      loading.value = false;
    }
  }
  onMounted(() => {
    void load();
    if (refreshSeconds > 0) timer = setInterval(load, refreshSeconds * 1000);
  });
  onBeforeUnmount(() => {
    clearInterval(timer);
    controller?.abort();
  });
  return { data, error, loading, reload: load };
}
