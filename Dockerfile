# IDR service image (production: talks to MongoDB through MONGODB_URL; no embedded database).
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
# Every source folder of the layering (api → ingestion → fhir → timeline → store → schema), the
# ready-made SQL-on-FHIR views (fhir/views) and the demo seed.
COPY api ./api
COPY ingestion ./ingestion
COPY fhir ./fhir
COPY timeline ./timeline
COPY store ./store
COPY schema ./schema
COPY seed ./seed
EXPOSE 8080 2575
USER node
CMD ["node", "api/main.ts"]
