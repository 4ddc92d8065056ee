using VoiceActors.LiveKit;
using StackExchange.Redis;

namespace VoiceActors.Tests.Sessions;

public sealed class SessionPersistenceTests : IClassFixture<RedisServer>
{
    private readonly RedisServer _redis;

    public SessionPersistenceTests(RedisServer redis) => _redis = redis;

    [Fact]
    public async Task Session_state_round_trips_through_real_redis_with_a_ttl_of_max_duration_plus_buffer()
    {
        await using var silo = await TestSilo.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = _redis.ConnectionString,
        });
        var id = SessionIds.New();
        var grain = silo.Grains.GetGrain<IInterviewSessionGrain>(id);
        await grain.Create(SessionTestData.Command("tenant-a"));
        await grain.JoinAsync("candidate-1", ParticipantRole.Candidate);
        await grain.JoinAsync("agent-1", ParticipantRole.Agent);
        var t0 = silo.Clock.GetUtcNow();
        await grain.RecordTurn(new Turn(ParticipantRole.Agent, "Tell me about yourself.", t0, t0.AddSeconds(2)));
        await grain.RecordTurn(new Turn(ParticipantRole.Candidate, "I build real-time systems.", t0.AddSeconds(3), t0.AddSeconds(6)));

        var key = await FindKeyAsync(id);
        Assert.NotNull(key);
        var ttl = await _redis.Connection.GetDatabase().KeyTimeToLiveAsync(key.Value);
        Assert.NotNull(ttl);
        var expected = new InterviewSessionOptions().StorageExpiry; // 90 min + 15 min buffer
        Assert.InRange(ttl.Value, expected - TimeSpan.FromMinutes(1), expected);

        // Drop the activation: the next call must rebuild everything from Redis alone.
        await silo.Cluster.DeactivateAsync(grain);
        var reloaded = await grain.Get("tenant-a");
        Assert.Equal(SessionStatus.Active, reloaded.Status);
        Assert.Equal(2, reloaded.TurnCount);
        Assert.Equal(["candidate-1", "agent-1"], reloaded.Participants.Select(p => p.Identity));
        var turns = await grain.GetTurns("tenant-a");
        Assert.Equal("I build real-time systems.", turns[1].Text);
        Assert.Equal(t0.AddSeconds(3), turns[1].StartedAt);
    }

    [Fact]
    public async Task Live_session_keeps_a_redis_watchdog_reminder_and_drops_it_when_completed()
    {
        await using var silo = await TestSilo.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Redis"] = _redis.ConnectionString,
        });
        var id = SessionIds.New();
        var grain = silo.Grains.GetGrain<IInterviewSessionGrain>(id);
        await grain.Create(SessionTestData.Command("tenant-a"));
        Assert.True(await ReminderStoredAsync(id));

        await grain.Complete("tenant-a", "done");
        Assert.False(await ReminderStoredAsync(id));
    }

    private async Task<RedisKey?> FindKeyAsync(string sessionId)
    {
        var server = _redis.Connection.GetServer(_redis.Connection.GetEndPoints()[0]);
        await foreach (var key in server.KeysAsync(pattern: $"*{sessionId}*"))
        {
            if (await _redis.Connection.GetDatabase().KeyTypeAsync(key) is RedisType.String or RedisType.Hash) return key;
        }
        return null;
    }

    private async Task<bool> ReminderStoredAsync(string sessionId)
    {
        var db = _redis.Connection.GetDatabase();
        var server = _redis.Connection.GetServer(_redis.Connection.GetEndPoints()[0]);
        await foreach (var key in server.KeysAsync(pattern: "*"))
        {
            if (await db.KeyTypeAsync(key) != RedisType.SortedSet) continue;
            foreach (var entry in await db.SortedSetRangeByRankAsync(key))
                if (entry.ToString().Contains(sessionId, StringComparison.Ordinal) &&
                    entry.ToString().Contains("session-watchdog", StringComparison.Ordinal)) return true;
        }
        return false;
    }
}
