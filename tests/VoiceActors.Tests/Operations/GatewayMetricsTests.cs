using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.Extensions.Configuration;

namespace VoiceActors.Tests.Operations;

/// <summary>The standalone gateway process (an Orleans client of the silo) serves <c>/metrics</c> and the timeline route too.</summary>
public sealed class GatewayMetricsTests(OperationsSystem ops) : IClassFixture<OperationsSystem>
{
    [Fact]
    public async Task Standalone_gateway_serves_metrics_of_its_requests_and_orleans_client()
    {
        var silo = ops.System.Services.GetRequiredService<IConfiguration>();
        var port = FreePort.Next();
        await using var gateway = ChildProcess.Start("dotnet",
        [
            Path.Combine(AppContext.BaseDirectory, "VoiceActors.Gateway.dll"),
            $"--urls=http://127.0.0.1:{port}",
            $"--Orleans:GatewayPort={silo["Orleans:GatewayPort"]}",
            $"--Orleans:ClusterId={silo["Orleans:ClusterId"]}",
            $"--Gateway:ApiKeys:0:Key={EmbeddedSystem.KeyA}",
            "--Gateway:ApiKeys:0:Tenant=tenant-a",
            "--environment=Production",
        ]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", EmbeddedSystem.KeyA);
        await WaitHealthyAsync(http, gateway);

        var created = await http.PostAsJsonAsync("/v1/interviews", new { candidateId = "cand-gw", jobId = "job-gw" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("sessionId").GetString();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/interviews/{id}/timeline")).StatusCode);

        using var anonymous = new HttpClient { BaseAddress = http.BaseAddress };
        var scrape = await Exposition.ScrapeAsync(anonymous);
        Assert.Contains(scrape.Named("http_server_request_duration_seconds_count"),
            s => s.Labels.GetValueOrDefault("http_route") == "/v1/interviews/{id}/timeline" && s.Value >= 1);
        Assert.Contains(scrape.Names, n => n.StartsWith("orleans_", StringComparison.Ordinal));
        // Known label values are exported from start-up: every reason a media socket drops a frame for, at 0 with no socket opened.
        Assert.Equal(["barge_in", "client_backlog", "invalid", "rate_limited"],
            scrape.Named("voice_media_socket_frames_dropped_total").Where(s => s.Value == 0).Select(s => s.Labels["reason"]).Order());
    }

    private static Task WaitHealthyAsync(HttpClient http, ChildProcess process) => Eventually.UntilAsync(async () =>
    {
        if (process.HasExited) throw new InvalidOperationException($"gateway exited:\n{process.Output}");
        return (await http.GetAsync("/healthz")).IsSuccessStatusCode;
    }, TimeSpan.FromSeconds(60), () => $"gateway not healthy:\n{process.Output}", TimeSpan.FromMilliseconds(100));
}
