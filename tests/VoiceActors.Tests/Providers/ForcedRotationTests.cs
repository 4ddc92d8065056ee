using Microsoft.Extensions.Time.Testing;
using VoiceActors.LiveKit;
using VoiceActors.Media;
using VoiceActors.Providers;

namespace VoiceActors.Tests.Providers;

/// <summary>
/// A rotation at the last safe moment (the budget's force margin), through the link and the simulated provider on a fake
/// clock advanced one 20 ms frame at a time, as the relay feeds it: what the candidate hears of the agent's answer in
/// flight then, and of the first answer on the new session.
/// </summary>
public sealed class ForcedRotationTests
{
    private static readonly TimeSpan Frame = TimeSpan.FromMilliseconds(AudioFormat.FrameMilliseconds);
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(3);

    /// <summary>What thread-pool lag behind the fake clock can add to a frame's arrival (the simulator catches up in a burst).</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(100);

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 2, 8, 0, 0, TimeSpan.Zero));
    private readonly List<(TimeSpan At, string What)> _heard = [];
    private readonly object _gate = new();
    private readonly DateTimeOffset _t0;

    public ForcedRotationTests() => _t0 = _clock.GetUtcNow();

    private TimeSpan Now => _clock.GetUtcNow() - _t0;

    /// <summary>Looks for a pause from 5 s into a provider session, rotates regardless at 9 s; the provider's own cap is at 20 s.</summary>
    private ProviderLink Link(IVoiceEvents events)
    {
        var session = new ProviderSessionOptions
        {
            Budget = TimeSpan.FromSeconds(10), SafetyMargin = TimeSpan.FromSeconds(5), ForceMargin = TimeSpan.FromSeconds(1),
            BoundaryQuiet = TimeSpan.FromMilliseconds(300),
        };
        var simulator = new SimulatedProviderOptions
        {
            ResponseLatency = TimeSpan.FromMilliseconds(100), ResponseJitter = TimeSpan.Zero, ResponseDuration = Answer,
            SessionCap = TimeSpan.FromSeconds(20),
        };
        var failover = new ProviderFailoverOptions { StallTimeout = TimeSpan.FromSeconds(60), InitialBackoff = TimeSpan.FromMilliseconds(50) };
        var registry = new VoiceProviderRegistry([new SimulatedVoiceProvider("sim", simulator, _clock, session)]);
        return new ProviderLink(registry, failover, _clock, "s-forced", new ProviderSettings("sim"), null, () => Conversation.Empty, events);
    }

    /// <summary>One frame of fake time: the candidate's frame to the link (as the relay hands it on), then a moment for the provider's pumps.</summary>
    private async Task StepAsync(ProviderLink link, bool speaking, int i)
    {
        _clock.Advance(Frame);
        link.TrySendAudio(new AudioFrame(i, _clock.GetUtcNow().UtcTicks, speaking ? Speech : new byte[AudioFormat.FrameBytes]));
        await Task.Delay(1); // the simulator and the link run on the thread pool: let them keep up with fake time
    }

    private static readonly byte[] Speech = TestSupport.Tone.Pcm16(AudioFormat.SamplesPerFrame, 4000, 220, AudioFormat.SampleRate);

    private async Task<int> UntilAsync(ProviderLink link, TimeSpan until, bool speaking, int i)
    {
        while (Now < until) await StepAsync(link, speaking, i++);
        return i;
    }

    [Fact]
    public async Task At_the_last_safe_moment_the_answer_in_flight_is_heard_whole_and_the_next_one_starts_as_fast_as_the_first()
    {
        var events = new Heard(this);
        await using var link = Link(events);
        link.Start();
        var i = 0;
        while (!link.IsConnected && i < 250) await StepAsync(link, speaking: false, i++);
        Assert.True(link.IsConnected);

        // The candidate speaks from 4 s to 8 s: no pause in the rotation's window (5 s to 9 s), so the rotation is forced,
        // and the agent's answer (from about 8.5 s, 3 s long) is in flight at 9 s.
        i = await UntilAsync(link, TimeSpan.FromSeconds(4), speaking: false, i);
        i = await UntilAsync(link, TimeSpan.FromSeconds(8), speaking: true, i);
        var firstEnd = Now;
        i = await UntilAsync(link, firstEnd + TimeSpan.FromMilliseconds(400), speaking: false, i);
        link.ExpectResponse(); // the relay's own end of speech
        i = await UntilAsync(link, TimeSpan.FromSeconds(13), speaking: false, i);

        var rotatedAt = Single(e => e.StartsWith("rotated planned", StringComparison.Ordinal), "a rotation");
        var firstAnswer = Frames(firstEnd, rotatedAt + TimeSpan.FromSeconds(1));
        Assert.True(firstAnswer.Length > 0, "the agent never answered the first utterance");
        // Heard whole: every frame of the 3 s answer, its transcript, and the rotation only after it (never mid-answer).
        Assert.Equal((int)(Answer / Frame), firstAnswer.Length);
        var transcript = Single(e => e == "transcript Agent", "the agent's transcript of its first answer");
        Assert.True(rotatedAt >= transcript, $"rotated at {rotatedAt.TotalSeconds:0.00} s, in the answer that ended at {transcript.TotalSeconds:0.00} s");
        Assert.True(rotatedAt < TimeSpan.FromSeconds(20), "the provider's cap came first");
        Assert.True(MaxSilence(firstAnswer) <= Slack, $"a {MaxSilence(firstAnswer).TotalMilliseconds:0} ms silence inside the answer");
        var firstReply = firstAnswer[0] - firstEnd;

        // The first utterance on the new session is answered as fast as the first one was, and its audio flows as evenly.
        i = await UntilAsync(link, TimeSpan.FromSeconds(15), speaking: true, i);
        var secondEnd = Now;
        i = await UntilAsync(link, secondEnd + TimeSpan.FromMilliseconds(400), speaking: false, i);
        link.ExpectResponse();
        await UntilAsync(link, TimeSpan.FromSeconds(19.5), speaking: false, i);
        var secondAnswer = Frames(secondEnd, TimeSpan.MaxValue);
        Assert.Equal((int)(Answer / Frame), secondAnswer.Length);
        Assert.InRange(secondAnswer[0] - secondEnd, firstReply - Slack, firstReply + Slack);
        Assert.True(MaxSilence(secondAnswer) <= Slack, $"a {MaxSilence(secondAnswer).TotalMilliseconds:0} ms silence inside the answer after the rotation");
        Assert.Equal(0, Count(e => e.StartsWith("failed", StringComparison.Ordinal)));
    }

    private TimeSpan Single(Func<string, bool> match, string what)
    {
        lock (_gate)
        {
            var found = _heard.Where(h => match(h.What)).ToArray();
            Assert.True(found.Length == 1, $"expected one {what}, saw: {string.Join(" | ", _heard.Where(h => h.What != "audio").Select(h => $"{h.At.TotalSeconds:0.00} {h.What}"))}");
            return found[0].At;
        }
    }

    private int Count(Func<string, bool> match)
    {
        lock (_gate) return _heard.Count(h => match(h.What));
    }

    private TimeSpan[] Frames(TimeSpan from, TimeSpan to)
    {
        lock (_gate) return _heard.Where(h => h.What == "audio" && h.At > from && h.At < to).Select(h => h.At).ToArray();
    }

    private static TimeSpan MaxSilence(TimeSpan[] frames)
    {
        var max = TimeSpan.Zero;
        for (var k = 1; k < frames.Length; k++) max = frames[k] - frames[k - 1] > max ? frames[k] - frames[k - 1] : max;
        return max;
    }

    /// <summary>What the link hands on, stamped with the fake time it came at.</summary>
    private sealed class Heard(ForcedRotationTests test) : IVoiceEvents
    {
        private void Add(string what)
        {
            lock (test._gate) test._heard.Add((test.Now, what));
        }

        public void OnProviderAudio(AudioFrame frame) => Add("audio");
        public void OnTranscript(Turn turn) => Add($"transcript {turn.Speaker}");
        public void OnCandidateSpeechStarted(string provider) => Add("speech started");
        public void OnProviderError(string provider, string code, string message) => Add($"error {code}");
        public void OnCandidateAudioSent(long sentAtUtcTicks, long handedOffUtcTicks) { }
        public void OnProviderConnected(string provider, int attempt, int replayedTurns) => Add($"connected {attempt}");
        public void OnProviderFailed(string provider, string reason, int consecutiveFailures) => Add($"failed {reason}");
        public void OnProviderFailover(string from, string to, string reason) => Add("failover");
        public void OnProviderRotated(string provider, string reason, int verbatimTurns, int condensedTurns) => Add($"rotated {reason}");
    }
}
