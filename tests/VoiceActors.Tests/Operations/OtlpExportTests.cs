using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace VoiceActors.Tests.Operations;

/// <summary>
/// With <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, a silo process exports traces, metrics and logs over OTLP/HTTP
/// (protobuf bodies to /v1/traces, /v1/metrics, /v1/logs); a local listener stands in for the collector.
/// </summary>
public sealed class OtlpExportTests
{
    [Fact]
    public async Task Silo_exports_traces_metrics_and_logs_to_the_configured_otlp_endpoint()
    {
        var collectorPort = FreePort.Next();
        var received = new ConcurrentDictionary<string, string>(); // path -> content type
        using var collector = new HttpListener();
        collector.Prefixes.Add($"http://127.0.0.1:{collectorPort}/");
        collector.Start();
        using var stop = new CancellationTokenSource();
        var accept = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var context = await collector.GetContextAsync();
                    using (var body = new MemoryStream())
                    {
                        await context.Request.InputStream.CopyToAsync(body);
                        if (body.Length > 0) received[context.Request.Url!.AbsolutePath] = context.Request.ContentType ?? "";
                    }
                    context.Response.StatusCode = 200; // an empty Export*ServiceResponse
                    context.Response.Close();
                }
                // Stopping the listener disposes an exchange in flight; an exporter that gave up on one is not a failure either.
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException) { if (stop.IsCancellationRequested) return; }
            }
        });

        // The OTEL_* settings are .NET configuration to the OpenTelemetry SDK: on the command line like every other silo setting.
        await using var silo = await SiloProcess.StartAsync(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Information",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{collectorPort}",
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_BLRP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
        }, environment: "Development");
        var httpPort = silo.HttpPort;
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "va-local-dev-key");

        var created = false;
        bool AllReceived() => created && received.ContainsKey("/v1/traces") && received.ContainsKey("/v1/metrics") && received.ContainsKey("/v1/logs");
        // A silo still starting (HttpRequestException, TaskCanceledException) is "not yet" to Eventually; an exited one ends the wait.
        await Eventually.UntilAsync(async () =>
        {
            if (AllReceived()) return true;
            if (silo.HasExited) throw new InvalidOperationException($"silo exited:\n{silo.Output}");
            if (!created)
            {
                var response = await http.PostAsJsonAsync("/v1/interviews", new { candidateId = "cand-otlp", jobId = "job-otlp" });
                created = response.StatusCode == HttpStatusCode.Created;
            }
            return AllReceived();
        }, TimeSpan.FromSeconds(40), () => $"collector received only [{string.Join(", ", received.Keys)}]; created={created}\n{silo.Output}",
            TimeSpan.FromMilliseconds(100));
        Assert.All(received.Values, contentType => Assert.Equal("application/x-protobuf", contentType));

        await stop.CancelAsync();
        collector.Stop();
        await accept;
    }
}
