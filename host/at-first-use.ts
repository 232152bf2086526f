// What a host needs only once tasks come (the image provider, the task pipeline's modules): opened
// at the first call, the opening shared by every caller meanwhile; a failed open is forgotten, so
// the next caller tries again rather than inheriting the failure for good.
export function atFirstUse<T>(open: () => Promise<T>): () => Promise<T> {
  let opening: Promise<T> | null = null;
  return () => {
    opening ??= open().catch((error: unknown) => {
      opening = null;
      throw error;
    });
    return opening;
  };
}
