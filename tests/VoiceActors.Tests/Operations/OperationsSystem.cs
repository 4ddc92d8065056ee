using System.Net.Http.Json;

namespace VoiceActors.Tests.Operations;

/// <summary>
/// The embedded silo (real Kestrel on a free port, Orleans on free ports) with a small capacity so utilization moves
/// visibly, shared by the operations tests of one class.
/// </summary>
public sealed class OperationsSystem : IAsyncLifetime
{
    public const int Capacity = 40;

    public EmbeddedSystem System { get; } = new EmbeddedSystem().With("Silo:MaxConcurrentSessions", Capacity.ToString());

    public HttpClient TenantA { get; private set; } = null!;
    public HttpClient TenantB { get; private set; } = null!;
    public HttpClient Anonymous { get; private set; } = null!;

    public IGrainFactory Grains => (IGrainFactory)System.Services.GetService(typeof(IGrainFactory))!;

    public Task InitializeAsync()
    {
        TenantA = System.ClientFor(EmbeddedSystem.KeyA);
        TenantB = System.ClientFor(EmbeddedSystem.KeyB);
        Anonymous = System.CreateClient();
        return Task.CompletedTask;
    }

    public async Task<string> CreateSessionAsync(HttpClient client, string candidateId = "cand-ops", string? provider = null)
    {
        var response = await client.PostAsJsonAsync("/v1/interviews", new { candidateId, jobId = "job-ops", provider });
        Assert.Equal(global::System.Net.HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetString()!;
    }

    public async Task DisposeAsync() => await System.DisposeAsync();
}
