/**
 * The gallery's endpoints in this member's server (appliance/singleuser), which forward to the portal.
 * Every error answer has the portal's shape: {"ok": false, "error": "...", "status": N}.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IPublication {
  slug: string;
  title: string;
  version: number;
  url: string;
  state: string;
  error?: string | null;
}

/** The answer to a publish: the new publication or version, queued for rendering. */
export interface IPublished {
  slug: string;
  version: number;
  url: string;
  state: string;
}

export interface IMe {
  username: string;
  groups: string[];
}

export interface IPublishRequest {
  path: string;
  title: string;
  summary: string;
  tags: string[];
  visibility: string;
  strip_outputs: boolean;
  new_version_of: string | null;
}

/** An answer that was not a success, with the message to show as it came. */
export class GalleryError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'appliance/gallery', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new GalleryError(`Your JupyterLab server did not answer: ${error}`, 0);
  }
  let body: any = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message =
      (body && (body.error || body.message)) ||
      `HTTP ${response.status} from ${url}`;
    throw new GalleryError(message, response.status);
  }
  return body as T;
}

export function publish(request: IPublishRequest): Promise<IPublished> {
  return call<IPublished>('publish', {
    method: 'POST',
    body: JSON.stringify(request)
  });
}

export async function publicationsOf(path: string): Promise<IPublication[]> {
  const answer = await call<{ publications: IPublication[] }>(
    `publications?path=${encodeURIComponent(path)}`
  );
  return answer.publications;
}

export function publication(slug: string): Promise<IPublication> {
  return call<IPublication>(`publications/${encodeURIComponent(slug)}`);
}

export function me(): Promise<IMe> {
  return call<IMe>('me');
}
