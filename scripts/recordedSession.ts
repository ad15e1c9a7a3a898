// A session that hands every run's feeds to `record` before running them: the benchmarks replay or time the exact
// inputs an analysis gave each model.
import type * as ort from 'onnxruntime-node';

export function recordedSession(
  session: ort.InferenceSession,
  record: (feeds: ort.InferenceSession.FeedsType) => void,
): ort.InferenceSession {
  return new Proxy(session, {
    get(target, prop, receiver) {
      if (prop === 'run') {
        return (feeds: ort.InferenceSession.FeedsType) => {
          record(feeds);
          return target.run(feeds);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
