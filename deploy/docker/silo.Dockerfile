# VoiceActors silo, with the agent's media bridge (Node, @livekit/rtc-node) next to it. Build from the repository root:
#   docker build -f deploy/docker/silo.Dockerfile -t voiceactors/silo .

# The media plane's npm packages, pinned by the lock file: the bridge runs on them, and the gateway embeds livekit-client's bundle.
FROM node:20-bookworm-slim AS media
WORKDIR /src/src/media
COPY src/media/package.json src/media/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so source edits do not invalidate the package layer.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/Grains.Abstractions/Grains.Abstractions.csproj src/Grains.Abstractions/
COPY src/Grains/Grains.csproj src/Grains/
COPY src/LiveKit/LiveKit.csproj src/LiveKit/
COPY src/ServiceDefaults/ServiceDefaults.csproj src/ServiceDefaults/
COPY src/Gateway/Gateway.csproj src/Gateway/
COPY src/Silo/Silo.csproj src/Silo/
COPY src/media/Media.targets src/media/
RUN dotnet restore src/Silo/Silo.csproj
COPY src/ src/
COPY --from=media /src/src/media/node_modules src/media/node_modules
RUN dotnet publish src/Silo/Silo.csproj -c Release --no-restore -o /app /p:UseAppHost=false \
 && mkdir -p /app/media \
 && cp -r src/media/bridge src/media/package.json src/media/node_modules /app/media/

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# libopus for the recorder (Concentus loads it as libopus.so; the recorder falls back to its managed codec, ~4x the CPU, without it).
RUN apt-get update && apt-get install -y --no-install-recommends libopus0 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(ls /usr/lib/*/libopus.so.0 | head -n1)" /usr/lib/libopus.so
# Node for the media bridge (the silo starts it as its child; MediaBridge:NodePath), from the same image the packages came from.
COPY --from=media /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app .
# Production: JSON logs, API keys required on /v1 and the dashboard.
ENV ASPNETCORE_ENVIRONMENT=Production
USER $APP_UID
# 8080 HTTP (/healthz, /metrics, /dashboard, and /v1 when Silo:ServeGateway), 11111 silo-to-silo, 30000 Orleans clients.
EXPOSE 8080 11111 30000
ENTRYPOINT ["dotnet", "VoiceActors.Silo.dll", "--urls", "http://0.0.0.0:8080"]
