using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using VoiceActors.Media;
using VoiceActors.Recording;

namespace VoiceActors.Tests.Recording;

/// <summary>
/// Where the recorder puts candidate audio that arrives unevenly (network jitter, a stalled client, a burst after it), on a
/// fake clock so arrival times are exact: the candidate channel must stay aligned with the interview's time, whatever the
/// jitter, and a channel a long stall put behind must catch up in the next pause rather than stay late for the whole interview.
/// </summary>
public sealed class RecorderPlacementTests
{
    private const int Frame = AudioFormat.SamplesPerFrame;
    private const int PerSecond = AudioFormat.SampleRate;

    [Fact]
    public async Task Jitter_does_not_push_the_candidate_channel_later_and_a_long_stall_is_caught_up_in_the_next_pause()
    {
        // 0-3 s speech with a stall of 60-260 ms every 400 ms (jitter), 3-4 s pause, 4-6 s speech after an 800 ms stall
        // (delivered late in one burst), 6-8 s pause, 8-11 s speech on time.
        var sent = Signal(11, quiet: [(3, 4), (6, 8)]);
        var frames = sent.Length / Frame;
        var delay = new double[frames];
        var random = new Random(3);
        for (var f = 0; f < 150; f += 20) Stall(delay, f, 60 + random.Next(0, 200));
        Stall(delay, 200, 800);

        var (recorded, skipped) = await RecordAsync(sent, delay);

        // Total length: the interview's 11 s, not 11 s plus every stall (the channel used to grow by each late frame's delay).
        Assert.InRange(recorded.Length, 11 * PerSecond - 2 * Frame, 11 * PerSecond + 18 * Frame);
        // The jittered speech where it was spoken: its envelope matches at lag 0 within a frame.
        var (early, earlyLag) = BestLag(sent, recorded, 0, 3);
        Assert.True(early > 0.9 && Math.Abs(earlyLag) <= 1, $"0-3 s under jitter: envelope r={early:0.000} at lag {earlyLag} frames");
        // The stalled speech is all there, late by at most the stall.
        var (stalled, stalledLag) = BestLag(sent, recorded, 4, 6);
        Assert.True(stalled > 0.9 && stalledLag is >= 0 and <= 41, $"4-6 s after the stall: envelope r={stalled:0.000} at lag {stalledLag} frames");
        // After the pause, the channel is back within the recorder's 300 ms grace of where the speech was spoken.
        var (late, lateLag) = BestLag(sent, recorded, 8, 10);
        Assert.True(late > 0.9 && Math.Abs(lateLag) <= 16, $"8-10 s after the catch-up: envelope r={late:0.000} at lag {lateLag} frames (stalled lag {stalledLag})");
        Assert.True(skipped > 0, "no quiet frame was skipped: the catch-up did not happen");
    }

    /// <summary>Frame <paramref name="first"/> and those after it are held back and arrive at once, <paramref name="ms"/> late.</summary>
    private static void Stall(double[] delay, int first, int ms)
    {
        var arrival = 20.0 * (first + 1) + ms;
        for (var i = first; i < delay.Length && 20.0 * (i + 1) < arrival; i++) delay[i] = arrival - 20.0 * (i + 1);
    }

    /// <summary>Records <paramref name="pcm"/> as candidate frames, frame i arriving at 20 ms × i plus its delay; returns the decoded candidate channel.</summary>
    private static async Task<(short[] Candidate, long Skipped)> RecordAsync(short[] pcm, double[] delayMs)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"va-rec-place-{Guid.NewGuid():N}");
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        var options = Options.Create(new RecordingOptions { Directory = directory, ChunkDuration = TimeSpan.FromMinutes(1) });
        var vault = new RecordingVault(new DirectoryRecordingStore(options), new RecordingKeys(options), options);
        try
        {
            // The worker's class itself, in process: the test is the thread that pumps it, on the fake clock.
            var recorder = new RecordingEncoder(1, "tenant-p", "place-1", new NoEvents(), vault, new MediaRelayOptions().SpeechLevel, clock,
                NullLogger<RecordingEncoder>.Instance);
            var start = clock.GetUtcNow();
            var arrivals = Enumerable.Range(0, pcm.Length / Frame).Select(i => (i, at: 20.0 * (i + 1) + delayMs[i])).OrderBy(a => a.at).ThenBy(a => a.i);
            foreach (var (i, at) in arrivals)
            {
                var due = start + TimeSpan.FromMilliseconds(at);
                if (due > clock.GetUtcNow()) clock.SetUtcNow(due);
                var bytes = ArrayPool<byte>.Shared.Rent(AudioFormat.FrameBytes);
                Buffer.BlockCopy(pcm, i * Frame * 2, bytes, 0, AudioFormat.FrameBytes);
                recorder.Offer(bytes, AudioFormat.FrameBytes, clock.GetUtcNow().UtcTicks, 0);
                recorder.Pump(clock.GetUtcNow().UtcTicks);
            }
            var completed = recorder.CompleteAsync(TimeSpan.FromSeconds(30));
            Assert.True(recorder.Pump(clock.GetUtcNow().UtcTicks), "the recording did not end when completed");
            await completed.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, recorder.FramesDropped);
            Assert.Equal(0, recorder.ChunksDropped);
            var key = await vault.OpenKeyAsync("tenant-p", "place-1", default) ?? throw new InvalidOperationException("no key stored");
            var manifest = await vault.ReadManifestAsync("tenant-p", "place-1", key, default) ?? throw new InvalidOperationException("no manifest stored");
            var chunk = await vault.ReadChunkAsync("tenant-p", "place-1", key, Assert.Single(manifest.Chunks).Index, default);
            return (RecordingKit.Decode(chunk!).Candidate, recorder.QuietFramesSkipped);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Tones in 200 ms stretches of their own pitch and level, silent in the <paramref name="quiet"/> spans (seconds).</summary>
    private static short[] Signal(int seconds, (int From, int To)[] quiet)
    {
        var speech = RecordingKit.Samples(RecordingKit.Speech(seconds, seed: 21));
        foreach (var (from, to) in quiet) Array.Clear(speech, from * PerSecond, (to - from) * PerSecond);
        return speech;
    }

    /// <summary>The best envelope correlation of the sent span [from, to) s against the recording, over lags -1 s..+2 s in frames.</summary>
    private static (double R, int LagFrames) BestLag(short[] sent, short[] recorded, int from, int to)
    {
        var a = RecordingKit.Envelope(sent);
        var b = RecordingKit.Envelope(recorded);
        var (best, bestLag) = (-1.0, 0);
        for (var lag = -50; lag <= 100; lag++)
        {
            int lo = from * 50, hi = to * 50;
            if (lo + lag < 0 || hi + lag > b.Length) continue;
            var r = RecordingKit.Pearson(i => a[i], i => b[i + lag], lo, hi);
            if (r > best) (best, bestLag) = (r, lag);
        }
        return (best, bestLag);
    }

    /// <summary>What the worker would tell the silo: not what this test is about (ChunksDropped is asserted instead).</summary>
    private sealed class NoEvents : IRecordingEvents
    {
        public void ChunkStored(uint recording) { }
        public void ChunkDropped(uint recording, double seconds, string why) { }
        public void StoreFailed(uint recording, string reason) { }
    }
}
