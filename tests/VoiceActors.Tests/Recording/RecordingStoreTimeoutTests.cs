using System.Diagnostics.Metrics;
using VoiceActors.PostSession.Persistence;
using VoiceActors.Recording;
using VoiceActors.Tests.Sessions;

namespace VoiceActors.Tests.Recording;

/// <summary>
/// Issue 15, item 6, "a store that times out": the real RADOS Gateway behind a relay that stops answering mid-interview. The
/// recorder's chunks queue (bounded) and drop with counters and a timeline event while the interview goes on; the sealed
/// uploads it tried carry no plaintext; listening back while the store hangs is a 504 problem, audited, never a stack; once
/// the store answers again, what was stored before the stall is served.
/// </summary>
[Collection(RecordingCollection.Name)]
public sealed class RecordingStoreTimeoutTests(RecordingSystem shared, ITestOutputHelper output)
{
    [Fact]
    public async Task A_store_that_stops_answering_drops_queued_chunks_with_counters_and_a_timeline_event_and_the_read_is_an_audited_504()
    {
        await using var proxy = new StallingProxy(shared.Rgw.ServiceUrl);
        var directory = Path.Combine(Path.GetTempPath(), $"va-rec-stall-{Guid.NewGuid():N}");
        await using var system = new EmbeddedSystem();
        foreach (var (k, v) in shared.Rgw.Settings()) system.With(k, v);
        system.With("Recordings:S3:ServiceUrl", proxy.Url)
            .With("Recordings:Directory", directory) // not used with an object store: nothing may land here either
            .With("Recordings:ChunkDuration", "00:00:01")
            .With("Recordings:UploadQueue", "1")
            .With("Recordings:StoreTimeout", "00:00:01");
        using var counters = new RecorderCounters();
        var client = system.ClientFor(EmbeddedSystem.KeyA);
        var grains = system.Services.GetRequiredService<IGrainFactory>();

        // Transcription off: the transcript worker would read the recording from the same hung store after the end.
        var id = await RecordingKit.CreateAsync(client, recording: true, transcription: false);
        var session = grains.GetGrain<IInterviewSessionGrain>(id);
        var prefix = RecordingVault.Prefix("tenant-a", id);
        await RecordingKit.SpeakAsync(session.Media(), RecordingKit.Speech(4, seed: 61));
        await Eventually.UntilAsync(async () => (await shared.Rgw.ListAsync(prefix)).Count(n => n.Contains("/chunk-", StringComparison.Ordinal)) >= 2,
            TimeSpan.FromSeconds(15), () => "the store took fewer than two chunks before the stall");
        var storedBefore = (await shared.Rgw.ListAsync(prefix)).Count(n => n.Contains("/chunk-", StringComparison.Ordinal));

        // The store hangs: every call from now on waits for an answer that never comes.
        proxy.Stalled = true;
        var speech = RecordingKit.Speech(8, seed: 62);
        var frames = speech.Length / VoiceActors.Media.AudioFormat.FrameBytes;
        var accepted = await RecordingKit.SpeakAsync(session.Media(), speech);
        output.WriteLine($"{accepted} of {frames} frames accepted while the store hung; {storedBefore} chunks stored before");
        Assert.True(accepted >= frames * 9 / 10, $"the interview stalled with its store: {accepted} of {frames} frames accepted");
        var timeline = await Eventually.ValueAsync(() => session.GetTimeline("tenant-a"),
            t => t.Any(e => e.Kind == SessionRecorder.ChunkDroppedKind), TimeSpan.FromSeconds(10), _ => "no recording.chunk_dropped on the timeline");
        var drops = timeline.Where(e => e.Kind == SessionRecorder.ChunkDroppedKind).ToList();
        foreach (var e in drops) output.WriteLine($"timeline: {e.Kind} {e.Detail}");
        Assert.All(drops, e => Assert.Contains("of recording lost: the store is behind", e.Detail, StringComparison.Ordinal));
        Assert.True(counters.ChunksDropped >= drops.Count, $"voice_recording_chunks_dropped rose by {counters.ChunksDropped}, the timeline has {drops.Count}");
        Assert.True(counters.StoreErrors >= 2, $"voice_recording_store_errors rose by only {counters.StoreErrors}: the calls did not time out");
        var status = (await session.Get("tenant-a")).Status;
        Assert.True(status is not (SessionStatus.Completed or SessionStatus.Failed or SessionStatus.Expired), $"the session ended ({status}) with its store");

        // What the recorder tried to upload into the hung store was sealed: requests went out, no Ogg or Opus header in clear.
        var swallowed = proxy.Swallowed();
        Assert.True(swallowed.AsSpan().IndexOf("PUT /"u8) >= 0, "no upload reached the hung store: the plaintext check below would prove nothing");
        Assert.True(swallowed.AsSpan().IndexOf("OggS"u8) < 0 && swallowed.AsSpan().IndexOf("OpusHead"u8) < 0, "plaintext audio was sent to the store");

        // The end goes on (the last chunk's flush gives up after Recordings:FlushTimeout), the post-session pipeline finishes.
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync($"/v1/interviews/{id}/complete", null)).StatusCode);
        await Eventually.UntilAsync(async () => (await session.Get("tenant-a")).PostSessionPending is { Count: 0 },
            TimeSpan.FromSeconds(30), () => "the post-session pipeline did not finish while the recording store hung");

        // Listening back while the store hangs: a problem, in bounded time, audited.
        var clock = Stopwatch.StartNew();
        using (var hung = await client.GetAsync($"/v1/interviews/{id}/recording"))
        {
            var body = await hung.Content.ReadAsStringAsync();
            output.WriteLine($"GET while hung: {(int)hung.StatusCode} after {clock.ElapsedMilliseconds} ms: {body}");
            Assert.Equal(HttpStatusCode.GatewayTimeout, hung.StatusCode);
            Assert.Equal("application/problem+json", hung.Content.Headers.ContentType?.MediaType);
            Assert.Equal("Recording store unavailable", JsonDocument.Parse(body).RootElement.GetProperty("title").GetString());
            Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
        }
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"the refusal took {clock.Elapsed}");
        var audit = await system.Services.GetRequiredService<IPostSessionRepository>().GetAuditAsync("tenant-a", id);
        Assert.Contains(audit, e => e.Action == AuditActions.RecordingRefused && e.Detail?.StartsWith("StoreUnavailable:", StringComparison.Ordinal) == true);

        // The store answers again: what it took before the stall is served, a valid file.
        proxy.Stalled = false;
        using var served = await RecordingKit.WaitServedAsync(client, id);
        var (seconds, info) = await RecordingKit.OpusInfoAsync(await served.Content.ReadAsByteArrayAsync());
        output.WriteLine(info);
        Assert.InRange(seconds, storedBefore - 1, 4 + 8 + 1);
        Assert.False(Directory.Exists(directory), "the recorder wrote to the local directory while the object store hung");
    }

    /// <summary>The recorder's drop and error counters, from when the test starts (other collections' recordings may add to them).</summary>
    private sealed class RecorderCounters : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _dropped;
        private long _errors;

        public RecorderCounters()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name is "voice_recording_chunks_dropped" or "voice_recording_store_errors") listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                if (instrument.Name == "voice_recording_chunks_dropped") Interlocked.Add(ref _dropped, value);
                else Interlocked.Add(ref _errors, value);
            });
            _listener.Start();
        }

        public long ChunksDropped => Interlocked.Read(ref _dropped);

        public long StoreErrors => Interlocked.Read(ref _errors);

        public void Dispose() => _listener.Dispose();
    }
}
