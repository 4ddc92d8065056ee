using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using VoiceActors.Recording;
using VoiceActors.Sessions;
using VoiceActors.Tests.Fixtures;
using VoiceActors.Tests.Sessions;
using Xunit.Abstractions;

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
        await using var client = await ClusterClient.ConnectAsync(_redis.ConnectionString, responseTimeout: TimeSpan.FromSeconds(3));
        var id = SessionIds.New();
        var grain = client.Client.GetGrain<IInterviewSessionGrain>(id);
        await grain.Create(new CreateSession(Tenant, "cand-crash", "job-1", new ProviderSettings("simulated"), new ConsentFlags(true, false, false), "local"));
        await using var second = await SiloProcess.StartAsync(_redis.ConnectionString, arguments);
        var doomed = first.Hosts((await grain.Get(Tenant)).Silo) ? first : second;
        var survivor = doomed == first ? second : first;

        var killedAt = -1;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var accepted = await RecordingKit.SpeakAsync(grain.Media(), RecordingKit.Speech(16, seed: 9), second =>
        {
            if (second == 6)
            {
                doomed.KillHard(); // 7 s in: chunks 0-2 stored, the fourth in progress
                killedAt = 7;
            }
            return Task.CompletedTask;
        });
        wall.Stop();
        Assert.Equal(7, killedAt);
        await Eventually.UntilAsync(async () => survivor.Hosts((await grain.Get(Tenant)).Silo), TimeSpan.FromSeconds(30), () => "never resumed",
            transient: e => e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException);
        await grain.Complete(Tenant, "done");

        using var http = new HttpClient { BaseAddress = survivor.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        using var served = await RecordingKit.WaitServedAsync(http, id);
        var file = await served.Content.ReadAsByteArrayAsync();
        var (seconds, info) = await RecordingKit.OpusInfoAsync(file);
        output.WriteLine(info);

        // The manifest, read the way the silos read it: chunks numbered on from the dead silo's, the downtime a gap.
        var options = Options.Create(new RecordingOptions
        {
            S3 = new S3RecordingOptions { ServiceUrl = system.Rgw.ServiceUrl, Bucket = RadosGateway.Bucket, AccessKey = RadosGateway.AccessKey, SecretKey = RadosGateway.SecretKey },
            MasterKeys = settings.Where(s => s.Key.StartsWith("Recordings:MasterKeys:", StringComparison.Ordinal)).ToDictionary(s => s.Key.Split(':')[^1], s => s.Value!),
            CurrentKeyId = settings["Recordings:CurrentKeyId"],
        });
        using var store = new S3RecordingStore(options);
        var vault = new RecordingVault(store, new RecordingKeys(options), options);
        var key = await vault.OpenKeyAsync(Tenant, id, CancellationToken.None);
        var manifest = await vault.ReadManifestAsync(Tenant, id, key!, CancellationToken.None);
        Assert.NotNull(manifest);
        var chunks = manifest.Chunks;
        output.WriteLine($"accepted {accepted} of 800 frames; chunks {string.Join(", ", chunks.Select(c => $"#{c.Index}@{c.Start48 / 48_000.0:0.00}s+{c.Samples48 / 48_000.0:0.00}s"))}; served {seconds:0.00} s");
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Index)); // one recording, numbered on
        var beforeKill = chunks.Where(c => c.Start48 < 7 * 48_000).ToArray();
        var afterKill = chunks.Where(c => c.Start48 >= 7 * 48_000).ToArray();
        Assert.NotEmpty(afterKill); // the survivor went on recording into the same manifest
        // At most the chunk in progress was lost: what the dead silo stored reaches to within one chunk (2 s) of the kill.
        var storedUntil = beforeKill.Max(c => c.Start48 + c.Samples48) / 48_000.0;
        Assert.True(storedUntil >= 7 - 2 - 0.5, $"the dead silo's chunks end at {storedUntil:0.00} s, killed at 7 s");
        // Everything the survivor took is there: the recording holds all accepted audio but the one lost chunk.
        var recorded = chunks.Sum(c => c.Samples48) / 48_000.0;
        Assert.True(recorded >= accepted * 0.02 - 2 - 0.5, $"{recorded:0.00} s recorded of {accepted * 0.02:0.00} s accepted");
        // The served timeline spans the downtime as silence: at least what was recorded, at most the time spent speaking.
        Assert.InRange(seconds, recorded - 0.5, wall.Elapsed.TotalSeconds + 1);
    }
}
