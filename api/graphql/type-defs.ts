/** The GraphQL schema (SDL) of IDR: patients, their timeline and the views built on it. */
export const typeDefs = /* GraphQL */ `
  "An ISO 8601 date or date-time."
  scalar DateTime
  "Any JSON value; FHIR resources as served by /fhir."
  scalar JSON

  enum Lane { lab imaging pathology document diagnosis treatment encounter model decision other }

  type Query {
    "A patient by FHIR id; null when unknown or deleted."
    patient(id: ID!): Patient
    "Patients by identifier (system|value or value) and/or name, a page at a time."
    patients(identifier: String, name: String, first: Int = 20, after: String): PatientConnection!
    "A cohort (a FHIR Group) by id; null when unknown or deleted."
    cohort(id: ID!): Cohort
  }

  "A cohort: a Group of patients, its members from the last evaluation of its criteria (POST Group/{id}/$evaluate) or listed by hand."
  type Cohort {
    id: ID!
    name: String
    "The FHIR searches that define it (exclusions prefixed with NOT)."
    criteria: [String!]!
    memberCount: Int!
    "When the members were last evaluated."
    evaluatedAt: DateTime
    "The member patients the caller may read (others are left out; memberCount counts all)."
    members(first: Int = 50): [Patient!]!
    resource: JSON!
  }

  type PageInfo { hasNextPage: Boolean!, hasPreviousPage: Boolean!, startCursor: String, endCursor: String }
  type Identifier { system: String, value: String, type: String }

  type PatientConnection { edges: [PatientEdge!]!, pageInfo: PageInfo!, totalCount: Int! }
  type PatientEdge { cursor: String!, node: Patient! }

  type Patient {
    id: ID!
    reference: String!
    name: String
    family: String
    given: [String!]!
    gender: String
    birthDate: String
    deceased: Boolean
    identifiers: [Identifier!]!
    resource: JSON!
    "The patient's events, newest first. Cursors are stable: events added while paging neither repeat nor shift."
    timeline(lanes: [Lane!], from: DateTime, to: DateTime, codes: [String!], text: String, first: Int = 20, after: String): TimelineConnection!
    "One analyte over time, in one unit where UCUM can convert (unit: the target UCUM unit; default the latest result's)."
    labTrend(code: String!, from: DateTime, to: DateTime, unit: String): LabTrend!
    reports(category: String, first: Int = 50): [Report!]!
    imagingStudies(modality: String, first: Int = 50): [ImagingStudy!]!
    documents(type: String, first: Int = 50): [Document!]!
    conditions(first: Int = 50): [Condition!]!
    """
    What a tumour board needs on one screen. labCodes: LOINC codes of the key labs (default Hb, WBC, PLT, creatinine, CEA, CA 15-3);
    labUnits: the UCUM unit to show a lab in, by any of its codes (e.g. {code: "718-7", unit: "g/dL"}: Hb mmol/L shown as g/dL,
    converted with the molar mass; creatinine umol/L <-> mg/dL likewise); results UCUM cannot convert keep value null and their originalValue.
    """
    caseSummary(since: DateTime, labCodes: [String!], labUnits: [LabUnit!]): CaseSummary!
  }

  "The UCUM unit a key lab is shown in; code: any LOINC code of the analyte (59260-0 and 718-7 are both Hb)."
  input LabUnit { code: String!, unit: String! }

  type TimelineConnection { edges: [TimelineEdge!]!, pageInfo: PageInfo!, totalCount: Int! }
  type TimelineEdge { cursor: String!, node: TimelineEvent! }

  type TimelineEvent {
    "The FHIR reference of the resource the event stands for, e.g. DiagnosticReport/123."
    id: ID!
    time: DateTime!
    lane: Lane!
    title: String!
    summary: String!
    abnormal: Boolean!
    "preliminary, final, corrected, cancelled or unknown (entered-in-error events are not on the timeline)."
    status: String!
    reference: String!
    "Every resource the event stands for (the anchor first, then results, linked report…)."
    references: [String!]!
    codes: [String!]!
    source: EventSource
    lastUpdated: DateTime!
    "The anchor resource."
    resource: JSON
    "All resources of the event, in the order of references."
    resources: [JSON!]!
  }

  type EventSource { activity: String, inboxId: String, provenance: String, agent: String, recorded: DateTime }

  type LabTrend { code: String!, name: String, unit: String, points: [LabPoint!]! }
  type LabPoint {
    time: DateTime!
    "The value in the trend's unit; null when it cannot be converted (see originalValue)."
    value: Float
    unit: String
    originalValue: Float
    originalUnit: String
    comparator: String
    text: String
    referenceLow: Float
    referenceHigh: Float
    referenceText: String
    flag: String
    abnormal: Boolean!
    status: String!
    reference: String!
  }

  type Report {
    id: ID!
    reference: String!
    status: String!
    kind: String!
    category: [String!]!
    title: String
    effective: DateTime
    issued: DateTime
    conclusion: String
    resource: JSON!
    results: [JSON!]!
  }

  type ImagingStudy {
    id: ID!
    reference: String!
    status: String!
    started: DateTime
    modalities: [String!]!
    description: String
    numberOfSeries: Int
    numberOfInstances: Int
    "The DICOM StudyInstanceUID."
    studyInstanceUid: String
    "The study in the configured web viewer (IDR_VIEWER_URL_TEMPLATE); null when no viewer is configured."
    viewerUrl: String
    "The study's DICOMweb (WADO-RS) URL, when IDR knows the PACS endpoint it came from."
    wadoRsUrl: String
    "The latest radiology report linked to the study."
    report: Report
    resource: JSON!
  }

  type Document {
    id: ID!
    reference: String!
    status: String!
    date: DateTime
    type: String
    category: [String!]!
    title: String
    description: String
    contentType: String
    url: String
    resource: JSON!
  }

  type Condition {
    id: ID!
    reference: String!
    code: String
    display: String
    onset: DateTime
    recorded: DateTime
    clinicalStatus: String
    verificationStatus: String
    stage: String
    resource: JSON!
  }

  type Diagnosis { display: String!, code: String, date: DateTime, basis: String!, reference: String! }

  type PathologySummary {
    report: Report!
    date: DateTime
    histology: String
    morphologyCode: String
    site: String
    grade: String
    er: String
    pr: String
    her2: String
    ki67: String
    tnm: String
    stage: String
    size: String
    conclusion: String
  }

  type ImagingSummary { modality: String!, study: ImagingStudy!, date: DateTime, conclusion: String, "The study's latest linked report." report: Report }

  "A value stated by a pathology report (or a Condition), with where it comes from."
  type ReportedValue {
    "As stated: Positive (90 %), Score 1+, 15 %, Nottingham grade 2, 8500/3 Infiltrating duct carcinoma, 22 mm."
    value: String!
    "The coded answer: LA6576-8, 1+, MSI-H, 8500/3 (ICD-O-3 morphology), C50.4 (ICD-O-3 topography)."
    code: String
    system: String
    display: String
    "A number in unit: Ki-67 %, tumour size mm."
    quantity: Float
    unit: String
    "Normalised reading: positive / negative / equivocal / low positive (ER, PR, HER2, HER2 ISH); 0, 1+, 2+, 3+ (HER2 IHC); MSI-H / MSI-L / MSS; dMMR / pMMR; grade 1-3."
    interpretation: String
    date: DateTime
    "The stating resource: DiagnosticReport/... or Condition/..."
    source: String!
    report: Report
    "The Observations the value was read from."
    observations: [String!]!
  }

  "An item from the latest report stating it; values holds every report's value, newest first, so two reports that disagree are both shown."
  type ReportedItem {
    "ER, PR, HER2 IHC, HER2 ISH, HER2, Ki-67, MSI, MMR, grade; histology; topography; tumour size."
    item: String!
    latest: ReportedValue!
    values: [ReportedValue!]!
    "True when two sources state different values."
    conflicting: Boolean!
  }

  "TNM categories of one report and its stage group: as the report states it, else derived from T, N and M (AJCC 8th, breast anatomic and colorectal), else null with the reason."
  type TnmStaging {
    "p (pathological), c (clinical), yp / yc (after neoadjuvant therapy)."
    prefix: String!
    t: String
    n: String
    m: String
    stageGroup: String
    "reported, derived or not derivable."
    stageGroupBasis: String!
    "Why the group is not derivable, or a note on the derivation."
    stageGroupNote: String
    "The system a derived group follows, e.g. AJCC 8th edition, anatomic stage group (breast)."
    stagingSystem: String
    "The TNM edition the report states (8), null when it states none."
    edition: String
    date: DateTime
    "The stating resource: the DiagnosticReport, or the first Observation of categories recorded outside a report."
    source: String!
    report: Report
    "False for an earlier report whose categories differ from the current ones of the same prefix."
    current: Boolean!
  }

  "A key lab in the chosen unit."
  type KeyLab { code: String!, name: String, unit: String, latest: LabPoint, trend: LabTrend! }

  type ProcedureSummary { display: String!, code: String, date: DateTime, status: String!, bodySite: String, reference: String!, resource: JSON! }

  "A value of a pathology finding and the report that states it."
  type FindingValue { value: String!, date: DateTime, report: Report! }
  "A key pathology finding from the latest report that states it (a resection often does not repeat the biopsy's receptors), with the differing values of earlier reports."
  type PathologyFinding { item: String!, value: String!, date: DateTime, report: Report!, otherValues: [FindingValue!]! }

  type CaseSummary {
    primaryDiagnosis: Diagnosis
    latestPathology: PathologySummary
    "Histology, grade, ER, PR, HER2, Ki-67, TNM, stage, size, site: each from the latest report that states it."
    pathologyFindings: [PathologyFinding!]!
    imaging: [ImagingSummary!]!
    labTrends: [LabTrend!]!
    "ER, PR, HER2 IHC, HER2 ISH, HER2, Ki-67, MSI, MMR, grade: each from the latest report stating it, with every report's value."
    biomarkers: [ReportedItem!]!
    "ICD-O-3 morphology, from the reports and Conditions."
    histology: ReportedItem
    "ICD-O-3 topography, from the reports and Conditions."
    topography: ReportedItem
    "Tumour size in mm."
    tumourSize: ReportedItem
    "Current staging per prefix (p before c), each followed by earlier reports' differing staging (current: false)."
    tnm: [TnmStaging!]!
    "The latest study per modality with its report's conclusion (the same list as imaging)."
    latestImaging: [ImagingSummary!]!
    "Key labs in the units asked for (labUnits), each with its latest result."
    keyLabs: [KeyLab!]!
    "Procedures (surgery) recorded as Procedure resources, newest first."
    procedures: [ProcedureSummary!]!
    recentLetters: [Document!]!
    since: DateTime
    "Events recorded or changed since 'since' (default: the last 30 days), newest first."
    newSince: [TimelineEvent!]!
  }
`;
