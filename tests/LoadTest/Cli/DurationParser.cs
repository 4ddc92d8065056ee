using System.Globalization;

namespace VoiceActors.LoadTest.Cli;

/// <summary>Durations as people type them: <c>30s</c>, <c>2m</c>, <c>500ms</c>, <c>1h</c>, <c>90</c> (seconds) or <c>00:01:30</c>.</summary>
public static class DurationParser
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        text = text.Trim().ToLowerInvariant();
        (string Suffix, double Scale)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)];
        foreach (var (suffix, scale) in units)
        {
            if (text.EndsWith(suffix, StringComparison.Ordinal) &&
                double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
            {
                value = TimeSpan.FromSeconds(n * scale);
                return true;
            }
        }
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
        {
            value = TimeSpan.FromSeconds(seconds);
            return true;
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }
}
