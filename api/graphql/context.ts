import type { Request, Response } from 'express';
import type { Repository } from '../../store/repository.ts';
import type { RequestContext } from '../../store/request-context.ts';
import type { TimelineStore } from '../../timeline/projection.ts';
import type { Loaders } from './loaders.ts';

/** What every resolver gets: the services it reads through, the caller's RequestContext and the request's loaders. */
export interface GraphqlContext {
  repo: Repository;
  timeline: TimelineStore;
  ctx: RequestContext;
  loaders: Loaders;
  /** IDR_VIEWER_URL_TEMPLATE: a study's viewer link, `{studyUid}` replaced. */
  viewerTemplate?: string;
}

/** The server context graphql-yoga receives from express. */
export interface ServerContext {
  req: Request;
  res: Response;
}
