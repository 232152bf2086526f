// The rename docker-worker did before `docker load` (reference §4.3), on the two small JSON files
// of a `docker save` archive, so the engine tags the loaded image with dw-host's name for it.

/** `manifest.json` (Docker ≥ 1.10): exactly one image, whose RepoTags become `[name]`. */
export function retagManifest(text: string, name: string): string {
  const manifest = parseJson(text, 'manifest.json') as unknown;
  if (!Array.isArray(manifest) || manifest.length !== 1 || typeof manifest[0] !== 'object' || manifest[0] === null) {
    const count = Array.isArray(manifest) ? manifest.length : 'no';
    throw new Error(`Image tarballs must contain exactly one image (manifest.json lists ${count})`);
  }
  return JSON.stringify([{ ...manifest[0], RepoTags: [name] }]);
}

/** `repositories` (the v1.0 format, used only when there is no manifest.json): one repository,
 * renamed to the name's repository, its tag renamed to the name's tag. */
export function retagRepositories(text: string, name: string): string {
  const repositories = parseJson(text, 'repositories') as Record<string, Record<string, string>>;
  const keys = typeof repositories === 'object' && repositories !== null ? Object.keys(repositories) : [];
  const tags = keys.length === 1 ? Object.entries(repositories[keys[0] as string] ?? {}) : [];
  const [, id] = tags[0] ?? [];
  if (keys.length !== 1 || typeof id !== 'string') {
    throw new Error(`Image tarballs must contain exactly one image (repositories lists ${keys.length})`);
  }
  const colon = name.lastIndexOf(':');
  return JSON.stringify({ [name.slice(0, colon)]: { [name.slice(colon + 1)]: id } });
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

/** An archive member's name without a leading `./` (tar files made by hand often have one). */
export function memberName(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}
