using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using VoiceActors.Recording;
using VoiceActors.Tests.Sessions;

namespace VoiceActors.Tests.Recording;

/// <summary>Two real silo processes on Redis recording into the real RADOS Gateway; the one hosting the interview is SIGKILLed.</summary>
[Collection(RecordingCollection.Name)]
public sealed class RecordingCrashTests(RecordingSystem system, ITestOutputHelper output) : IAsyncLifetime
{
    private const string Tenant = "tenant-crash";
    private const string Key = "crash-key";
    private readonly RedisServer _redis = new();

    public Task InitializeAsync() => _redis.InitializeAsync();

    public Task DisposeAsync() => _redis.DisposeAsync();

    [Fact]
    public async Task A_silo_killed_mid_interview_loses_at_most_the_chunk_in_progress_and_the_survivor_continues_the_same_recording()
    {
        var settings = system.Rgw.Settings();
        settings["Recordings:ChunkDuration"] = "00:00:02";
        settings["Silo:ServeGateway"] = "true";
        settings["Gateway:ApiKeys:0:Key"] = Key;
        settings["Gateway:ApiKeys:0:Tenant"] = Tenant;
        var arguments = settings.Select(s => $"--{s.Key}={s.Value}").ToArray();
        await using var first = await SiloProcess.StartAsync(_redis.ConnectionString, arguments);
        await using var client = await ClusterClient.ConnectAsync(_redis.ConnectionString); // each push gives up after 2 s by itself
        var id = SessionIds.New();
        var grain = client.Client.GetGrain<IInterviewSessionGrain>(id);
        await grain.Create(new CreateSession(Tenant, "cand-crash", "job-1", new ProviderSettings("simulated"), new ConsentFlags(true, false, false), "local"));
        await using var second = await SiloProcess.StartAsync(_redis.ConnectionString, arguments);
        var doomed = first.Hosts((await grain.Get(Tenant)).Silo) ? first : second;
        var survivor = doomed == first ? second : first;

        // The manifest, read the way the silos read it.
        var options = Options.Create(new RecordingOptions
        {
            S3 = new S3RecordingOptions { ServiceUrl = system.Rgw.ServiceUrl, Bucket = RadosGateway.Bucket, AccessKey = RadosGateway.AccessKey, SecretKey = RadosGateway.SecretKey },
            MasterKeys = settings.Where(s => s.Key.StartsWith("Recordings:MasterKeys:", StringComparison.Ordinal)).ToDictionary(s => s.Key.Split(':')[^1], s => s.Value!),
            CurrentKeyId = settings["Recordings:CurrentKeyId"],
        });
        using var store = new S3RecordingStore(options);
        var vault = new RecordingVault(store, new RecordingKeys(options), options);
        var killedAt = -1;
        var killedAtWall = 0.0;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var accepted = await RecordingKit.SpeakAsync(grain.Media(), RecordingKit.Speech(16, seed: 9), async second =>
        {
            // Killed as soon as the manifest lists the third chunk (4-6 s): the fourth is the chunk in progress.
            if (killedAt >= 0 || second < 4 || await vault.OpenKeyAsync(Tenant, id, CancellationToken.None) is not { } k) return;
            if ((await vault.ReadManifestAsync(Tenant, id, k, CancellationToken.None))?.Chunks.Any(c => c.Index == 2) == true)
            {
                doomed.KillHard();
                killedAt = second + 1;
                killedAtWall = wall.Elapsed.TotalSeconds; // the recorder's timeline runs on arrival time, as this clock does
            }
        });
        wall.Stop();
        Assert.True(killedAt > 0, "the third chunk never reached the bucket while the first silo lived");
        await Eventually.UntilAsync(async () => survivor.Hosts((await grain.Get(Tenant)).Silo), TimeSpan.FromSeconds(30), () => "never resumed",
            transient: e => e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException);
        await grain.Complete(Tenant, "done");

        using var http = new HttpClient { BaseAddress = survivor.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        using var served = await RecordingKit.WaitServedAsync(http, id);
        var file = await served.Content.ReadAsByteArrayAsync();
        var (seconds, info) = await RecordingKit.OpusInfoAsync(file);
        output.WriteLine(info);

        // Chunks numbered on from the dead silo's, the downtime a gap.
        var key = await vault.OpenKeyAsync(Tenant, id, CancellationToken.None);
        var manifest = await vault.ReadManifestAsync(Tenant, id, key!, CancellationToken.None);
        Assert.NotNull(manifest);
        var chunks = manifest.Chunks;
        output.WriteLine($"killed at {killedAtWall:0.00} s; accepted {accepted} of 800 frames; chunks {string.Join(", ", chunks.Select(c => $"#{c.Index}@{c.Start48 / 48_000.0:0.00}s+{c.Samples48 / 48_000.0:0.00}s"))}; served {seconds:0.00} s");
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Index)); // one recording, numbered on
        // Two contiguous runs: the dead silo's from the start, the survivor's to the end; between them the chunk in progress at
        // the kill and the downtime. The frames sent between the kill and the resume never reached a live relay as audio (held
        // while the silo was declared dead, they arrive as a burst the relay's rate limiter refuses, before the recording tap).
        var runs = new List<List<ManifestChunk>> { new() { chunks[0] } };
        foreach (var c in chunks.Skip(1))
        {
            if (c.Start48 != runs[^1][^1].Start48 + runs[^1][^1].Samples48) runs.Add([]);
            runs[^1].Add(c);
        }
        Assert.Equal(2, runs.Count);
        Assert.Equal(0, runs[0][0].Start48);
        var storedUntil = (runs[0][^1].Start48 + runs[0][^1].Samples48) / 48_000.0;
        // At most the chunk in progress was lost: the dead silo's chunks reach to within one chunk (2 s) of the kill, plus the
        // encoder's 0.3 s grace and the test loop's own lag.
        Assert.True(killedAtWall - storedUntil is > -0.5 and <= 2 + 0.3 + 0.7, $"the dead silo's chunks end at {storedUntil:0.00} s, killed at {killedAtWall:0.00} s");
        var end = (runs[1][^1].Start48 + runs[1][^1].Samples48) / 48_000.0;
        var recorded = chunks.Sum(c => c.Samples48) / 48_000.0;
        // The served file is the whole timeline, the stretch between the runs as silence.
        Assert.InRange(seconds, end - 0.1, end + 0.1);
        Assert.True(recorded < seconds, "the lost stretch is silence, not squeezed out");
    }
}
