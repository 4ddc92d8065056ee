namespace VoiceActors.LoadTest.Load;

/// <summary>
/// The realistic cadence of <c>--cadence realistic</c> (issue #13), frame by frame: a pause, a candidate answer of 10–40 s, then
/// silence until the agent's answer has been heard out (or 30 s passed with none), then a pause of 1–4 s before the next one. The
/// first pause is 0–20 s so sessions do not speak in lockstep. Every length comes from the session's own seeded generator.
/// Used by one pump thread only.
/// </summary>
public sealed class RealisticCadence
{
    public static readonly TimeSpan ShortestAnswer = TimeSpan.FromSeconds(10), LongestAnswer = TimeSpan.FromSeconds(40);
    public static readonly TimeSpan ShortestPause = TimeSpan.FromSeconds(1), LongestPause = TimeSpan.FromSeconds(4);
    public static readonly TimeSpan AgentShortest = TimeSpan.FromSeconds(5), AgentJitter = TimeSpan.FromSeconds(10); // agent answers of 5–15 s
    private static readonly TimeSpan MostWait = TimeSpan.FromSeconds(30); // no answer by then: the candidate carries on (counted unanswered)
    private static readonly TimeSpan LeastWait = TimeSpan.FromMilliseconds(500);

    private enum Phase { Pause, Speaking, Waiting }

    private readonly Random _random;
    private readonly TimeSpan _frame;
    private Phase _phase = Phase.Pause;
    private int _left;
    private int _waited;

    public RealisticCadence(int seed, TimeSpan frame)
    {
        _random = new Random(seed);
        _frame = frame;
        _left = Frames(TimeSpan.Zero, TimeSpan.FromSeconds(20));
    }

    /// <param name="answerHeard">The agent has answered the last utterance and its audio has stopped.</param>
    public (bool Speaking, bool Starts, bool Ends) Next(bool answerHeard)
    {
        switch (_phase)
        {
            case Phase.Pause when _left-- > 0:
                return (false, false, false);
            case Phase.Pause:
                _phase = Phase.Speaking;
                _left = Frames(ShortestAnswer, LongestAnswer) - 1;
                return (true, true, false);
            case Phase.Speaking when _left-- > 0:
                return (true, false, false);
            case Phase.Speaking:
                _phase = Phase.Waiting;
                _waited = 0;
                return (false, false, true); // the first silent frame ends the utterance, as in the fixed cadence
            default:
                _waited++;
                if ((answerHeard && _waited * _frame >= LeastWait) || _waited * _frame >= MostWait)
                {
                    _phase = Phase.Pause;
                    _left = Frames(ShortestPause, LongestPause);
                }
                return (false, false, false);
        }
    }

    private int Frames(TimeSpan least, TimeSpan most) =>
        Math.Max(1, (int)((least + (most - least) * _random.NextDouble()) / _frame));
}
