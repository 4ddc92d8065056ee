# VoiceActors gateway. Build from the repository root:
#   docker build -f deploy/docker/gateway.Dockerfile -t voiceactors/gateway .

# The candidate page embeds livekit-client's bundle from the media plane's pinned npm packages.
FROM node:20-bookworm-slim AS media
WORKDIR /src/src/media
COPY src/media/package.json src/media/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so source edits do not invalidate the package layer.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Grains.Abstractions/Grains.Abstractions.csproj src/Grains.Abstractions/
COPY src/LiveKit/LiveKit.csproj src/LiveKit/
COPY src/ServiceDefaults/ServiceDefaults.csproj src/ServiceDefaults/
COPY src/Gateway/Gateway.csproj src/Gateway/
COPY src/media/Media.targets src/media/
RUN dotnet restore src/Gateway/Gateway.csproj
COPY src/ src/
COPY --from=media /src/src/media/node_modules src/media/node_modules
RUN dotnet publish src/Gateway/Gateway.csproj -c Release --no-restore -o /app /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# Production: JSON logs, API keys required on /v1 and the dashboard.
ENV ASPNETCORE_ENVIRONMENT=Production
USER $APP_UID
# 8080 HTTP: /v1, /healthz, /metrics, /livekit/webhook.
EXPOSE 8080
ENTRYPOINT ["dotnet", "VoiceActors.Gateway.dll", "--urls", "http://0.0.0.0:8080"]
