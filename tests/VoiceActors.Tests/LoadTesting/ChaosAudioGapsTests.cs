using System.Diagnostics;
using VoiceActors.LoadTest.Metrics;
using static VoiceActors.LoadTest.Metrics.ChaosAudioGaps;

namespace VoiceActors.Tests.LoadTesting;

/// <summary>The heard gap's classification at a cut, from client marks at chosen times (ms from the start of the trace).</summary>
public sealed class ChaosAudioGapsTests
{
    private static long T(double ms) => (long)(ms * Stopwatch.Frequency / 1000);

    /// <summary>An utterance ending at 0, a 1 s answer from 700 ms (one frame per 20 ms), the next utterance ending at 6 s, its answer at 6.7 s.</summary>
    private static List<(long, ClientMark)> Conversation(double transcriptAt, bool transcript = true)
    {
        var marks = new List<(long, ClientMark)> { (T(0), ClientMark.UtteranceEnd) };
        for (var ms = 700.0; ms <= 1680; ms += 20) marks.Add((T(ms), ClientMark.Frame));
        if (transcript) marks.Add((T(transcriptAt), ClientMark.AgentTranscript));
        marks.Add((T(6000), ClientMark.UtteranceEnd));
        for (var ms = 6700.0; ms <= 7680; ms += 20) marks.Add((T(ms), ClientMark.Frame));
        marks.Sort(static (a, b) => a.Item1.CompareTo(b.Item1));
        return marks;
    }

    [Theory]
    [InlineData(1685)] // after the last frame
    [InlineData(1680)] // in the same tick
    [InlineData(1675)] // just before it: the transcript and the frames are separate one-way calls
    public void A_complete_answer_just_before_the_cut_owes_nothing_whichever_arrived_first(double transcriptAt)
    {
        var heard = Heard(Conversation(transcriptAt), T(1700), T(1700));

        Assert.Equal(HeardState.Quiet, heard.State); // the next answer's latency, not the conversation's 5 s pause
        Assert.InRange(heard.Gap!.Value, 690, 710);
    }

    [Fact]
    public void An_answer_cut_without_its_transcript_counts_from_its_last_frame()
    {
        var heard = Heard(Conversation(0, transcript: false), T(1700), T(1700));

        Assert.Equal(HeardState.Speaking, heard.State);
        Assert.InRange(heard.Gap!.Value, 5010, 5030);
    }

    [Fact]
    public void A_client_trace_keeps_the_last_two_minutes_and_the_window_of_each_event_not_the_whole_hour()
    {
        var gaps = new ChaosAudioGaps();
        const double minute = 60_000;
        gaps.Pin(T(10 * minute)); // an event at minute 10: its figures read minutes 8 to 15
        for (var ms = 0.0; ms < 60 * minute; ms += 20) gaps.Mark("s", ClientMark.Frame, T(ms));

        var kept = gaps.Marks("s");
        Assert.True(kept.Length < 60_000, $"{kept.Length} of 180,000 marks kept"); // whole, it grew without bound
        Assert.True(kept[0].At >= T(8 * minute), "nothing from before the event's window");
        Assert.Equal(7 * 3000 + 1, kept.Count(m => m.At >= T(8 * minute) && m.At <= T(15 * minute))); // the window, every frame
        Assert.DoesNotContain(kept, m => m.At > T(15 * minute + 20) && m.At < T(45 * minute)); // between: gone
        Assert.Equal(2 * 3000, kept.Count(m => m.At > T(58 * minute - 20))); // the last two minutes, every frame
    }
}
