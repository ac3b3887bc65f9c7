import express, { type Router } from 'express';
import type { Pipeline } from '../../ingestion/pipeline.ts';
import { findDuplicateIdentifiers } from '../../store/duplicate-identifiers.ts';

/**
 * GET /patients/_duplicates: the identifiers (system + value) two or more live Patients share —
 * records written before the store refused a second patient per identifier — as
 * `{ total, groups: [{ system, value, resources: ["Patient/…", …] }] }`, for someone to merge or correct.
 */
export function patientReportRouter(options: { pipeline: Pipeline }): Router {
  const router = express.Router();
  router.get('/patients/_duplicates', async (_req, res) => {
    const groups = await findDuplicateIdentifiers(options.pipeline.repo.database.c, 'Patient');
    res.json({ total: groups.length, groups });
  });
  return router;
}
