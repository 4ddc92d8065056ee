using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Diagnostics;

namespace VoiceActors.Telemetry;

/// <summary>
/// What every HTTP front (silo or standalone gateway) exports: Prometheus <c>/metrics</c> with the contract's names,
/// Orleans' own meters and the runtime's, traces across HTTP → grain calls → outgoing HTTP, OTLP export when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, and structured logs.
/// </summary>
public static class TelemetryHosting
{
    public const string MetricsPath = "/metrics";
    public const string HealthPath = "/healthz";

    public static WebApplicationBuilder AddVoiceActorsTelemetry(this WebApplicationBuilder builder, string serviceName,
        Action<MeterProviderBuilder>? metrics = null)
    {
        builder.AddStructuredLogging();
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName, serviceInstanceId: Environment.MachineName))
            .WithMetrics(m =>
            {
                m.AddMeter(TelemetryNames.VoiceMeter, TelemetryNames.OrleansMeter, "System.Runtime")
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    // Scrapes must see the gauges as they are now: a cached response would hide a session that just started.
                    .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
                metrics?.Invoke(m);
            })
            .WithTracing(t => t
                .AddSource(TelemetryNames.VoiceActivitySource,
                    ActivitySources.ApplicationGrainActivitySourceName,
                    ActivitySources.RuntimeActivitySourceName,
                    ActivitySources.StorageActivitySourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsPlumbing(http.Request.Path))
                .AddHttpClientInstrumentation());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            otel.UseOtlpExporter(); // logs, metrics and traces; endpoint, headers and protocol from the standard OTEL_* settings
        return builder;
    }

    /// <summary>Maps <c>/metrics</c> (anonymous, as Prometheus scrapes) and tags request logs with the session they concern.</summary>
    public static WebApplication MapVoiceActorsTelemetry(this WebApplication app)
    {
        app.UseSessionLogScope();
        app.MapPrometheusScrapingEndpoint(MetricsPath).AllowAnonymous();
        return app;
    }

    /// <summary>Scrapes and probes are not traced: they would drown the spans that matter.</summary>
    private static bool IsPlumbing(PathString path) => path.StartsWithSegments(MetricsPath) || path.StartsWithSegments(HealthPath);
}
