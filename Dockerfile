# IDR service image (production: talks to MongoDB through MONGODB_URL; no embedded database).
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY api ./api
COPY ingestion ./ingestion
COPY schema ./schema
COPY seed ./seed
EXPOSE 8080 2575
USER node
CMD ["node", "api/main.ts"]
