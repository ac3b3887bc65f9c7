/** A small C-CDA document written for tests: one patient, one allergy and one lab result, with entry ids chosen by the test. */
export interface CcdaFixture {
  /** recordTarget/patientRole/id: root (OID of the assigning authority) and extension. */
  patient: { root: string; extension: string; family: string; given: string };
  /** ClinicalDocument/id extension. */
  documentId: string;
  /** The entry ids (id/@root, UUIDs) of the allergy concern act, the allergy observation, the result organizer and the result observation. */
  ids: { concern: string; allergy: string; organizer: string; result: string };
  /** RxNorm code and name of the allergen. */
  allergen: { code: string; name: string };
  /** Hemoglobin value in g/dL. */
  hemoglobin: string;
}

/** Writes the document: a Consultation Note header, an allergies section and a results section. */
export function ccdaXml(f: CcdaFixture): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <realmCode code="US"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.4" extension="2015-08-01"/>
  <id root="2.16.840.1.113883.19.5.99999.1" extension="${f.documentId}"/>
  <code code="11488-4" codeSystem="2.16.840.1.113883.6.1" displayName="Consult note"/>
  <title>Consult note</title>
  <effectiveTime value="20240305101500+0100"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <recordTarget>
    <patientRole>
      <id root="${f.patient.root}" extension="${f.patient.extension}"/>
      <patient>
        <name><given>${f.patient.given}</given><family>${f.patient.family}</family></name>
        <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/>
        <birthTime value="19700101"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author>
    <time value="20240305101500+0100"/>
    <assignedAuthor><id root="2.16.840.1.113883.4.6" extension="111"/><assignedPerson><name><given>Eva</given><family>Dam</family></name></assignedPerson></assignedAuthor>
  </author>
  <custodian><assignedCustodian><representedCustodianOrganization><id root="2.16.840.1.113883.19.5"/><name>Test Hospital</name></representedCustodianOrganization></assignedCustodian></custodian>
  <component>
    <structuredBody>
      <component>
        <section>
          <templateId root="2.16.840.1.113883.10.20.22.2.6.1" extension="2015-08-01"/>
          <code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/>
          <title>Allergies</title>
          <text>${f.allergen.name}</text>
          <entry typeCode="DRIV">
            <act classCode="ACT" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.30" extension="2015-08-01"/>
              <id root="${f.ids.concern}"/>
              <code code="CONC" codeSystem="2.16.840.1.113883.5.6"/>
              <statusCode code="active"/>
              <effectiveTime><low value="20200101"/></effectiveTime>
              <entryRelationship typeCode="SUBJ">
                <observation classCode="OBS" moodCode="EVN">
                  <templateId root="2.16.840.1.113883.10.20.22.4.7" extension="2014-06-09"/>
                  <id root="${f.ids.allergy}"/>
                  <code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>
                  <statusCode code="completed"/>
                  <effectiveTime><low value="20200101"/></effectiveTime>
                  <value xsi:type="CD" code="419511003" displayName="Propensity to adverse reactions to drug" codeSystem="2.16.840.1.113883.6.96"/>
                  <participant typeCode="CSM">
                    <participantRole classCode="MANU">
                      <playingEntity classCode="MMAT">
                        <code code="${f.allergen.code}" displayName="${f.allergen.name}" codeSystem="2.16.840.1.113883.6.88"/>
                      </playingEntity>
                    </participantRole>
                  </participant>
                </observation>
              </entryRelationship>
            </act>
          </entry>
        </section>
      </component>
      <component>
        <section>
          <templateId root="2.16.840.1.113883.10.20.22.2.3.1" extension="2015-08-01"/>
          <code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>
          <title>Results</title>
          <text>Hemoglobin ${f.hemoglobin} g/dL</text>
          <entry typeCode="DRIV">
            <organizer classCode="BATTERY" moodCode="EVN">
              <templateId root="2.16.840.1.113883.10.20.22.4.1" extension="2015-08-01"/>
              <id root="${f.ids.organizer}"/>
              <code code="58410-2" codeSystem="2.16.840.1.113883.6.1" displayName="CBC panel"/>
              <statusCode code="completed"/>
              <component>
                <observation classCode="OBS" moodCode="EVN">
                  <templateId root="2.16.840.1.113883.10.20.22.4.2" extension="2015-08-01"/>
                  <id root="${f.ids.result}"/>
                  <code code="718-7" codeSystem="2.16.840.1.113883.6.1" displayName="Hemoglobin [Mass/volume] in Blood"/>
                  <statusCode code="completed"/>
                  <effectiveTime value="20240301083000+0100"/>
                  <value xsi:type="PQ" value="${f.hemoglobin}" unit="g/dL"/>
                </observation>
              </component>
            </organizer>
          </entry>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
`;
}

/** The same entry ids for every document: senders' ids are unique only within their own system, and test documents reuse them on purpose. */
export const SHARED_IDS = {
  concern: '36e3e930-7b14-11db-9fe1-0800200c9a66',
  allergy: '4adc1020-7b14-11db-9fe1-0800200c9a66',
  organizer: '7d5a02b0-67a4-11db-bd13-0800200c9a66',
  result: '107c2dc0-67a5-11db-bd13-0800200c9a66',
} as const;
