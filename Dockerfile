# IDR service image (production: talks to MongoDB through MONGODB_URL; no embedded database).

# The clinician web page (web/) is built with the dev dependencies (vite, react) in a stage of its
# own; only its static output goes into the image.
FROM node:24-bookworm-slim AS web
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./web
RUN npm run build:web

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
# Every source folder of the layering (api → ingestion → fhir → timeline → store → schema), the
# ready-made SQL-on-FHIR views (fhir/views), the demo seed and the built web page (served at /app/).
COPY api ./api
COPY ingestion ./ingestion
COPY fhir ./fhir
COPY timeline ./timeline
COPY store ./store
COPY schema ./schema
COPY seed ./seed
COPY --from=web /build/web/dist ./web/dist
EXPOSE 8080 2575
USER node
CMD ["node", "api/main.ts"]
