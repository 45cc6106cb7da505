// Reads a kustomization the way `kubectl apply -k` would for the subset manifests/ uses: the
// `resources` list (files, or folders holding their own kustomization.yaml), in order. Any other
// kustomize feature (patches, namePrefix, generators...) is refused, so the objects a test applies
// are exactly those kubectl would.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml, type KubernetesObject } from '@kubernetes/client-node';
import jsYaml from 'js-yaml';

const allowedKeys = new Set(['apiVersion', 'kind', 'resources']);

/**
 * The objects of the kustomization in `dir`, typed by client-node's loadAllYaml (which keeps the
 * CRDs' `x-kubernetes-*` schema keys when client-node serializes them again).
 */
export function loadKustomization(dir: string): KubernetesObject[] {
  const k = jsYaml.load(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(k)) if (!allowedKeys.has(key)) throw new Error(`${dir}/kustomization.yaml: ${key} is not supported by the test loader`);
  const out: KubernetesObject[] = [];
  for (const entry of (k['resources'] as string[] | undefined) ?? []) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...loadKustomization(path));
    else out.push(...(loadAllYaml(readFileSync(path, 'utf8')) as KubernetesObject[]).filter((o) => o));
  }
  return out;
}

/** The objects of a YAML file with `${NAME}` placeholders filled in (the waypoint template). */
export function loadTemplate(path: string, vars: Record<string, string>): KubernetesObject[] {
  const text = readFileSync(path, 'utf8').replace(/\$\{([A-Z_]+)\}/g, (m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`${path}: no value for ${m}`);
    return v;
  });
  return (loadAllYaml(text) as KubernetesObject[]).filter((o) => o);
}
