using VoiceActors.Tests.Sessions;
using VoiceActors.LiveKit;
using System.Net.Http.Json;
using System.Text.RegularExpressions;

namespace VoiceActors.Tests.Regions;

/// <summary>SIGTERM on a silo with live sessions: they migrate to the other silo of the region, state intact, none lost.</summary>
public sealed partial class DrainTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Sessions = 40;
    private readonly RedisServer _redis = new();
    private SiloFleet _fleet = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _fleet = await SiloFleet.StartAsync(_redis, ("eu", 200), ("eu", 200), ("us", 200));
    }

    public async Task DisposeAsync()
    {
        await _fleet.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Draining_a_silo_migrates_every_live_session_to_another_silo_of_its_region_with_state_intact()
    {
        var gateway = _fleet.Silos[2];
        var ids = new List<string>();
        for (var i = 0; i < Sessions; i++)
        {
            var body = await (await SiloFleet.CreateAsync(gateway, new() { ["eu"] = 10 }, candidate: $"cand-{i}")).ExpectAsync(HttpStatusCode.Created);
            ids.Add(body.GetProperty("sessionId").GetString()!);
        }
        var start = DateTimeOffset.UtcNow;
        await Task.WhenAll(ids.Select(async (id, i) =>
        {
            var grain = _fleet.Client.GetGrain<IInterviewSessionGrain>(id);
            await grain.JoinAsync($"candidate-{i}", ParticipantRole.Candidate);
            if (i % 2 == 0) await grain.JoinAsync($"agent-{i}", ParticipantRole.Agent);
            await grain.RecordTurn(new Turn(ParticipantRole.Candidate, $"answer {i}", start, start.AddSeconds(2)));
        }));
        var before = new Dictionary<string, SessionSnapshot>();
        foreach (var id in ids) before[id] = await _fleet.SnapshotAsync(id);

        var draining = _fleet.Silos[0];
        var survivor = _fleet.Silos[1];
        var onDraining = ids.Where(id => _fleet.SiloOf(before[id]) == draining).ToArray();
        Assert.True(onDraining.Length >= Sessions / 4, $"placement should have spread sessions; {onDraining.Length} on the silo to drain");

        var clock = Stopwatch.StartNew();
        draining.Process!.Terminate();
        await draining.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(40));
        var exitedAfter = clock.Elapsed;

        var summary = DrainSummary().Match(draining.Process.Output);
        Assert.True(summary.Success, $"no drain summary in the silo's output:\n{draining.Process.Output}");
        output.WriteLine($"drained {onDraining.Length} sessions; process exited after {exitedAfter.TotalMilliseconds:0} ms; {summary.Value}");
        Assert.Equal(onDraining.Length.ToString(), summary.Groups["migrated"].Value);
        Assert.Equal("0", summary.Groups["remaining"].Value);

        foreach (var id in ids)
        {
            var was = before[id];
            // Right after the drain: a watchdog tick that landed mid-migration was placed by the session's stored region too.
            var now = await _fleet.SnapshotAsync(id);
            Assert.Equal(was.Status, now.Status);
            Assert.True(now.Status.IsLive());
            Assert.Equal(was.CandidateId, now.CandidateId);
            Assert.Equal(1, now.TurnCount);
            Assert.Equal(was.Participants.Select(p => p.Identity).Order(), now.Participants.Select(p => p.Identity).Order());
            Assert.Equal("eu", _fleet.SiloOf(now).Region);
            Assert.NotEqual(draining, _fleet.SiloOf(now));
        }
        // The survivor's own count (what admission, placement and the autoscaler see) matches the sessions it now hosts.
        var ops = _fleet.Operator(survivor);
        await SiloFleet.WaitUntilAsync(async () =>
        {
            var regions = await ops.GetFromJsonAsync<JsonElement>("/v1/regions");
            var eu = regions.EnumerateArray().Single(r => r.GetProperty("name").GetString() == "eu");
            return eu.GetProperty("activeSessions").GetInt32() == Sessions && eu.GetProperty("silos").GetArrayLength() == 1;
        }, TimeSpan.FromSeconds(10), () => "the survivor's reported load never matched the sessions it hosts");

        foreach (var id in onDraining)
        {
            var timeline = await _fleet.Client.GetGrain<IInterviewSessionGrain>(id).GetTimeline(SiloFleet.Tenant);
            Assert.Contains(timeline, e => e.Kind == TimelineKinds.Migrating);
            Assert.Contains(timeline, e => e.Kind == TimelineKinds.Resumed);
            Assert.Equal(survivor, _fleet.SiloOf(await _fleet.SnapshotAsync(id)));
        }
    }

    [GeneratedRegex(@"Drain finished: migrated=(?<migrated>\d+) remaining=(?<remaining>\d+) elapsed_ms=(?<elapsed>\d+) p50_ms=(?<p50>[\d.]+) p99_ms=(?<p99>[\d.]+) max_ms=(?<max>[\d.]+)")]
    private static partial Regex DrainSummary();
}
