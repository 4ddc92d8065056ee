using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using System.Collections.Concurrent;
using System.Net.Http.Json;
using VoiceActors.Media;

namespace VoiceActors.Tests.Operations;

/// <summary>
/// The timeline of an interview whose primary provider refuses to connect: join, provider failover and completion,
/// read through <c>GET /v1/interviews/{id}/timeline</c> in the order they happened.
/// </summary>
public sealed class FailoverTimelineTests : IAsyncLifetime
{
    private readonly EmbeddedSystem _system = new EmbeddedSystem()
        .With("Providers:Simulated:FailFirstConnects", "1000") // the primary never connects
        .With("Providers:Failover:InitialBackoff", "00:00:00.020")
        .With("Providers:Failover:MaxBackoff", "00:00:00.050")
        .With("Providers:Failover:FailuresBeforeFailover", "2");

    private HttpClient _api = null!;

    public Task InitializeAsync()
    {
        _api = _system.ClientFor(EmbeddedSystem.KeyA);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _system.DisposeAsync();

    private sealed record Entry(int Seq, DateTimeOffset At, string Kind, string? Detail, string? Silo);

    private sealed class Sink : IAudioSink
    {
        public ConcurrentQueue<Turn> Turns { get; } = new();
        public Task OnProviderAudio(AudioFrame frame) => Task.CompletedTask;
        public Task OnBargeIn(long lastSequence) => Task.CompletedTask;
        public Task OnTranscript(Turn turn)
        {
            Turns.Enqueue(turn);
            return Task.CompletedTask;
        }
    }

    private async Task<Entry[]> TimelineAsync(string id) =>
        (await _api.GetFromJsonAsync<JsonElement>($"/v1/interviews/{id}/timeline")).GetProperty("events")
            .Deserialize<Entry[]>(new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    /// <summary>The provider connects on the thread pool and the agent is announced by the stand-in's webhook: poll, bounded.</summary>
    private Task<Entry[]> WaitForAsync(string id, Func<Entry[], bool> done) =>
        Eventually.ValueAsync(() => TimelineAsync(id), done, TimeSpan.FromSeconds(20),
            timeline => "timeline never got there: " + string.Join(" | ", (timeline ?? []).Select(e => $"{e.Kind} {e.Detail}")));

    [Fact]
    public async Task Timeline_shows_join_provider_failover_and_completion_in_order()
    {
        var created = await _api.PostAsJsonAsync("/v1/interviews", new
        {
            candidateId = "cand-failover",
            jobId = "job-failover",
            provider = "simulated",
            providerOptions = new { secondary = "simulated-backup" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetString()!;
        var grains = (IGrainFactory)_system.Services.GetService(typeof(IGrainFactory))!;
        var session = grains.GetGrain<IInterviewSessionGrain>(id);

        await session.Media().AttachMedia(grains.CreateObjectReference<IAudioSink>(new Sink())); // media attached: the provider connects
        await WaitForAsync(id, t => t.Any(e => e.Kind == TimelineKinds.ParticipantJoined && e.Detail!.StartsWith("Agent ", StringComparison.Ordinal)));
        await session.JoinAsync("cand-failover", ParticipantRole.Candidate);
        Assert.Equal(HttpStatusCode.Accepted, (await _api.PostAsync($"/v1/interviews/{id}/complete", null)).StatusCode);

        var timeline = await TimelineAsync(id);
        var trail = string.Join(" | ", timeline.Select(e => $"{e.Kind} {e.Detail}"));
        int At(Func<Entry, bool> match, int after = -1)
        {
            for (var i = after + 1; i < timeline.Length; i++) if (match(timeline[i])) return i;
            throw new Xunit.Sdk.XunitException($"missing after #{after + 1}: {trail}");
        }

        var createdAt = At(e => e.Kind == TimelineKinds.Created);
        var provisioned = At(e => e.Kind == TimelineKinds.RoomProvisioned, createdAt);
        var firstFailure = At(e => e.Kind == TimelineKinds.ProviderFailed && e.Detail!.StartsWith("simulated:", StringComparison.Ordinal), provisioned);
        var secondFailure = At(e => e.Kind == TimelineKinds.ProviderFailed && e.Detail!.StartsWith("simulated:", StringComparison.Ordinal), firstFailure);
        var failover = At(e => e.Kind == TimelineKinds.ProviderFailover, secondFailure);
        Assert.Contains("simulated -> simulated-backup", timeline[failover].Detail);
        var connected = At(e => e.Kind == TimelineKinds.ProviderConnected, failover);
        Assert.StartsWith("simulated-backup:", timeline[connected].Detail);
        var agent = At(e => e.Kind == TimelineKinds.ParticipantJoined && e.Detail!.StartsWith("Agent ", StringComparison.Ordinal), connected);
        var candidate = At(e => e.Kind == TimelineKinds.ParticipantJoined && e.Detail == "Candidate cand-failover", agent);
        var active = At(e => e is { Kind: TimelineKinds.StateChanged, Detail: "WaitingForParticipants -> Active" }, candidate);
        var completed = At(e => e is { Kind: TimelineKinds.StateChanged, Detail: "Active -> Completed" }, active);
        Assert.Equal(TimelineKinds.Ended, timeline[At(e => e.Kind == TimelineKinds.Ended, completed)].Kind);
        Assert.DoesNotContain(timeline, e => e.Kind == TimelineKinds.ProviderConnected && e.Detail!.StartsWith("simulated:", StringComparison.Ordinal));

        Assert.Equal(Enumerable.Range(1, timeline.Length), timeline.Select(e => e.Seq));
        for (var i = 1; i < timeline.Length; i++) Assert.True(timeline[i].At >= timeline[i - 1].At, $"event {i + 1} is earlier than event {i}: {trail}");
        Assert.All(timeline, e => Assert.False(string.IsNullOrEmpty(e.Silo)));
    }
}
