using static Microsoft.Extensions.Logging.LogLevel;

namespace VoiceActors.Tests.Cluster;

/// <summary>
/// The other side of fast failure detection: a silo that is only paused (SIGSTOP, as a long GC or a stalled VM looks) for less than
/// the 4 s silent window is not declared dead, keeps its sessions, and no session ends up with two activations.
/// </summary>
public sealed class PausedSiloTests(RedisServer redis, ITestOutputHelper output) : IClassFixture<RedisServer>
{
    private const int Sessions = 18;
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(2.5); // inside the window (MaxProbeTimeout 4 s x 1 missed probe)

    [Fact]
    public async Task A_silo_paused_for_2_5_s_is_not_declared_dead_keeps_its_sessions_and_no_session_is_activated_twice()
    {
        var cluster = $"ps-{Guid.NewGuid():N}"[..11];
        var silos = await FailoverTimingTests.StartSilosAsync(redis.ConnectionString, cluster, 3);
        try
        {
            await using var client = await ClusterClient.ConnectAsync(redis.ConnectionString, cluster, logLevel: Error);
            await FailoverTimingTests.WaitForActiveSilosAsync(client.Client, 3);
            var ids = await FailoverProbe.CreateLiveSessionsAsync(client.Client, Sessions);
            var before = await FailoverProbe.LocateAsync(client.Client, ids);
            var paused = silos.OrderByDescending(s => before.Values.Count(s.Hosts)).First();
            var itsSessions = before.Where(kv => paused.Hosts(kv.Value)).Select(kv => kv.Key).ToArray();
            Assert.NotEmpty(itsSessions);

            // Nothing calls the sessions during the pause: membership alone decides whether the silo is dead.
            var watchDead = WatchForDeathAsync(cluster, paused, Pause + TimeSpan.FromSeconds(6));
            Signal("STOP", paused);
            var clock = Stopwatch.StartNew();
            await Task.Delay(Pause);
            Signal("CONT", paused);
            output.WriteLine($"{paused.Name} paused for {clock.Elapsed.TotalMilliseconds:0} ms with {itsSessions.Length} of {Sessions} sessions on it");

            var declaredDead = await watchDead;
            Assert.False(declaredDead, $"{paused.Name} was declared dead after a {Pause} pause:\n{Tail(paused.Output)}");
            Assert.False(paused.HasExited, $"{paused.Name} stopped after its pause:\n{Tail(paused.Output)}");
            await FailoverTimingTests.WaitForActiveSilosAsync(client.Client, 3);

            var after = await FailoverProbe.LocateAsync(client.Client, ids);
            foreach (var id in itsSessions) Assert.True(paused.Hosts(after[id]), $"session {id} moved to {after[id]} although its silo was only paused");
            var duplicates = await FailoverProbe.DuplicatesAsync(client.Client, ids);
            output.WriteLine($"duplicate activations after the pause: {duplicates.Count}");
            Assert.Empty(duplicates);
            await FailoverProbe.AssertTurnsKeptAsync(client.Client, ids);
        }
        finally
        {
            foreach (var s in silos) await s.DisposeAsync();
        }
    }

    private static void Signal(string signal, SiloProcess silo)
    {
        using var kill = Process.Start("kill", [$"-{signal}", silo.Process.Id.ToString()]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>True if the membership table marks <paramref name="silo"/> Dead (status 6) at any time within <paramref name="span"/>.</summary>
    /// <summary>Whether membership declares <paramref name="silo"/> dead (status 6) within <paramref name="span"/>.</summary>
    private async Task<bool> WatchForDeathAsync(string cluster, SiloProcess silo, TimeSpan span)
    {
        var db = redis.Connection.GetDatabase();
        try
        {
            await Eventually.UntilAsync(async () => (await db.HashGetAllAsync($"{cluster}/members/{cluster}")).Any(e =>
                    e.Name.ToString().StartsWith($"S127.0.0.1:{silo.SiloPort}:", StringComparison.Ordinal) &&
                    e.Value.ToString().Contains("\"Status\":6", StringComparison.Ordinal)),
                span, () => $"{silo.Name} was not declared dead");
            return true;
        }
        catch (TimeoutException)
        {
            return false; // what the test wants: the whole span passed and it never was
        }
    }

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(80));
}
