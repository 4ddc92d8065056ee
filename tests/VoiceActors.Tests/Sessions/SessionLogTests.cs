using System.Globalization;
using Orleans.Runtime;
using Orleans.Storage;
using StackExchange.Redis;
using VoiceActors.LiveKit;

namespace VoiceActors.Tests.Sessions;

/// <summary>The session log on a real redis-server: what a checkpoint costs there, how big the state stays, and old state moving in.</summary>
public sealed class SessionLogTests(RedisServer redis, ITestOutputHelper output) : IClassFixture<RedisServer>
{
    private const string Tenant = "tenant-a";

    [Fact]
    public async Task A_2000_turn_sessions_checkpoint_writes_as_many_bytes_into_redis_as_its_10th_turns()
    {
        var (silo, id, grain) = await ActiveSessionAsync();
        await using var owned = silo;
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true"); // INFO is an admin command
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var t0 = silo.Clock.GetUtcNow();

        // Every turn the same size, so that any difference is the cost of what came before it.
        Turn TurnNo(int n) => new(n % 2 == 0 ? ParticipantRole.Candidate : ParticipantRole.Agent,
            $"Turn {n:D4}: I would shard the ledger by account and reconcile the entries nightly against the bank.",
            t0.AddSeconds(10 * n), t0.AddSeconds(10 * n + 8));

        var infoOnly = await MeasureAsync(server, () => Task.CompletedTask); // what the second INFO itself costs
        var measured = new Dictionary<int, (long Bytes, long Commands)>();
        for (var n = 1; n <= 2000; n++)
        {
            var turn = TurnNo(n);
            if (n is >= 10 and <= 12 or >= 1998)
            {
                var m = await MeasureAsync(server, () => grain.RecordTurn(turn));
                measured[n] = (m.Bytes - infoOnly.Bytes, m.Commands - infoOnly.Commands);
            }
            else await grain.RecordTurn(turn);
        }
        foreach (var (n, m) in measured) output.WriteLine($"turn {n}: {m.Bytes} bytes into Redis in {m.Commands} command(s)");

        // The fewest commands of three adjacent turns is the checkpoint alone (a client's keep-alive may land in one window).
        var early = measured.Where(m => m.Key <= 12).MinBy(m => m.Value.Commands).Value;
        var late = measured.Where(m => m.Key >= 1998).MinBy(m => m.Value.Commands).Value;
        Assert.Equal(early.Commands, late.Commands);
        Assert.Equal(early.Bytes, late.Bytes);
        Assert.InRange(early.Bytes, 1, 1024); // the turn and the command around it, not a state

        var state = await StateKeyAsync(id);
        var stateBytes = (await redis.Connection.GetDatabase().HashGetAsync(state, "data")).Length();
        output.WriteLine($"state {state}: {stateBytes} bytes after 2000 turns");
        Assert.InRange(stateBytes, 1, 4096);

        // A new activation rebuilds from Redis alone: the count, the transcript paged in, and the turns a replay needs.
        await silo.Cluster.DeactivateAsync(grain);
        Assert.Equal(2000, (await grain.Get(Tenant)).TurnCount);
        var turns = await grain.GetTurns(Tenant);
        Assert.Equal(2000, turns.Count);
        Assert.Equal(TurnNo(1), turns[0]);
        Assert.Equal(TurnNo(1234), turns[1233]);
        Assert.Equal(TurnNo(2000), turns[1999]);
    }

    [Fact]
    public async Task A_migrating_session_carries_its_turns_and_the_new_silo_reads_no_entry_of_the_log()
    {
        var (silo, id, grain) = await ActiveSessionAsync(silos: 2);
        await using var owned = silo;
        var t0 = silo.Clock.GetUtcNow();
        for (var n = 1; n <= 30; n++)
            await grain.RecordTurn(new Turn(n % 2 == 0 ? ParticipantRole.Candidate : ParticipantRole.Agent, $"turn {n}", t0.AddSeconds(n), t0.AddSeconds(n + 1)));
        var from = (await grain.Get(Tenant)).Silo!;
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.ConnectionString + ",allowAdmin=true");
        var server = admin.GetServer(admin.GetEndPoints()[0]);
        var readsBefore = await LogReadsAsync(server);

        Assert.Equal(from, await grain.AsReference<ISessionOperationsGrain>().Relocate(from, "drain test"));
        await Eventually.UntilAsync(async () => (await grain.Get(Tenant)).Silo != from, TimeSpan.FromSeconds(20), () => "the session did not move");

        Assert.Equal(readsBefore, await LogReadsAsync(server)); // no LRANGE: the activation came with its window
        var moved = await grain.Get(Tenant);
        Assert.Equal(30, moved.TurnCount);
        Assert.Equal(SessionStatus.Active, moved.Status);
        var timeline = await grain.GetTimeline(Tenant);
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.Migrating);
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.Resumed && e.Silo == moved.Silo);
        Assert.Equal("turn 30", (await grain.GetTurns(Tenant))[29].Text);
    }

    [Fact]
    public async Task A_session_stored_before_the_log_moves_its_turns_and_timeline_into_it_once()
    {
        await using var silo = await TestSilo.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString });
        var id = SessionIds.New();
        var grain = silo.Grains.GetGrain<IInterviewSessionGrain>(id);
        var t0 = silo.Clock.GetUtcNow();

        // A record as the previous version wrote it: the turns (id 8) and the timeline (id 19) inside the state.
        var storage = silo.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Sessions);
        var grainId = grain.GetGrainId();
        var old = new GrainState<InterviewSessionState>(new InterviewSessionState
        {
            Status = SessionStatus.Completed,
            TenantId = Tenant,
            CandidateId = "cand-1",
            JobId = "job-1",
            Region = "local",
            RoomName = SessionIds.RoomName(id),
            CreatedAt = t0,
            EndedAt = t0.AddMinutes(30),
            LegacyTurns =
            [
                new Turn(ParticipantRole.Agent, "Tell me about yourself.", t0, t0.AddSeconds(2)),
                new Turn(ParticipantRole.Candidate, "I build real-time systems.", t0.AddSeconds(3), t0.AddSeconds(6)),
            ],
            LegacyTimeline =
            [
                new TimelineEvent(t0, TimelineKinds.Created, "region local", "old-silo"),
                new TimelineEvent(t0.AddMinutes(30), TimelineKinds.Ended, "Completed: done", "old-silo"),
            ],
        });
        await storage.WriteStateAsync(StorageNames.SessionState, grainId, old);

        Assert.Equal(2, (await grain.Get(Tenant)).TurnCount);
        Assert.Equal(["Tell me about yourself.", "I build real-time systems."], (await grain.GetTurns(Tenant)).Select(t => t.Text));
        Assert.Equal([TimelineKinds.Created, TimelineKinds.Ended], (await grain.GetTimeline(Tenant)).Select(e => e.Kind));

        // The state was rewritten without them, and a second activation does not move them twice.
        var reread = new GrainState<InterviewSessionState>();
        await storage.ReadStateAsync(StorageNames.SessionState, grainId, reread);
        Assert.Empty(reread.State!.LegacyTurns);
        Assert.Empty(reread.State.LegacyTimeline);
        await silo.Cluster.DeactivateAsync(grain);
        Assert.Equal(2, (await grain.GetTurns(Tenant)).Count);
        Assert.Equal(2, (await grain.GetTimeline(Tenant)).Count);
    }

    [Fact]
    public async Task The_log_expires_with_the_state_and_erasure_keeps_only_when_things_happened()
    {
        var (silo, id, grain) = await ActiveSessionAsync();
        await using var owned = silo;
        var t0 = silo.Clock.GetUtcNow();
        await grain.RecordTurn(new Turn(ParticipantRole.Agent, "Tell me about yourself.", t0, t0.AddSeconds(2)));

        var db = redis.Connection.GetDatabase();
        var expected = new InterviewSessionOptions().StorageExpiry;
        var lists = new List<RedisKey>();
        var server = redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]);
        await foreach (var key in server.KeysAsync(pattern: $"*{id}*"))
            if (await db.KeyTypeAsync(key) == RedisType.List) lists.Add(key);
        Assert.Equal(2, lists.Count); // turns and timeline
        foreach (var key in lists)
        {
            var ttl = await db.KeyTimeToLiveAsync(key);
            Assert.NotNull(ttl);
            Assert.InRange(ttl.Value, expected - TimeSpan.FromMinutes(1), expected);
        }

        await grain.Complete(Tenant, "done");
        await grain.AsReference<ISessionPostSessionGrain>().Erase(Tenant, "candidate asked");
        await silo.Cluster.DeactivateAsync(grain);
        Assert.Empty(await grain.GetTurns(Tenant));
        var timeline = await grain.GetTimeline(Tenant);
        Assert.Contains(timeline, e => e.Kind == TimelineKinds.Created);
        Assert.All(timeline.Where(e => e.Kind != TimelineKinds.Deleted), e => Assert.Null(e.Detail));
    }

    /// <summary>A silo on the real redis-server and an active session on it (candidate and agent in the room).</summary>
    private async Task<(TestSilo Silo, string Id, IInterviewSessionGrain Grain)> ActiveSessionAsync(int silos = 1)
    {
        var silo = await TestSilo.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = redis.ConnectionString }, silos);
        var id = SessionIds.New();
        var grain = silo.Grains.GetGrain<IInterviewSessionGrain>(id);
        await grain.Create(SessionTestData.Command(Tenant));
        await grain.JoinAsync("candidate-1", ParticipantRole.Candidate);
        await grain.JoinAsync("agent-1", ParticipantRole.Agent);
        return (silo, id, grain);
    }

    /// <summary>How many list-range reads Redis has served (its own per-command counters; LLEN runs inside every append script, so it is not one).</summary>
    private static async Task<long> LogReadsAsync(IServer server)
    {
        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        long Calls(string command) => stats.TryGetValue($"cmdstat_{command}", out var v)
            ? long.Parse(v.Split(',')[0]["calls=".Length..], CultureInfo.InvariantCulture) : 0;
        return Calls("lrange");
    }

    /// <summary>Redis' own input counters across <paramref name="act"/>: two INFO calls around it, so each window holds one INFO.</summary>
    private static async Task<(long Bytes, long Commands)> MeasureAsync(IServer server, Func<Task> act)
    {
        var before = await StatsAsync(server);
        await act();
        var after = await StatsAsync(server);
        return (after.Bytes - before.Bytes, after.Commands - before.Commands);
    }

    private static async Task<(long Bytes, long Commands)> StatsAsync(IServer server)
    {
        var stats = (await server.InfoAsync("stats")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        return (long.Parse(stats["total_net_input_bytes"], CultureInfo.InvariantCulture),
            long.Parse(stats["total_commands_processed"], CultureInfo.InvariantCulture));
    }

    private async Task<RedisKey> StateKeyAsync(string sessionId)
    {
        var server = redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]);
        await foreach (var key in server.KeysAsync(pattern: $"*{sessionId}*"))
            if (await redis.Connection.GetDatabase().KeyTypeAsync(key) == RedisType.Hash) return key;
        throw new InvalidOperationException($"no state stored for {sessionId}");
    }
}
