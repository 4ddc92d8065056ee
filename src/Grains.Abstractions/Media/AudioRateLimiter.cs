namespace VoiceActors.Media;

/// <summary>
/// A token bucket over audio bytes: a sender may run ahead of real time by the burst, never further.
/// Not thread-safe: its owner (the grain's turn) serialises calls.
/// </summary>
public sealed class AudioRateLimiter(double bytesPerSecond, double burstBytes, TimeProvider clock)
{
    private readonly double _burst = burstBytes;
    private double _tokens = burstBytes;
    private long _last = clock.GetTimestamp();

    public bool TryTake(int bytes)
    {
        var now = clock.GetTimestamp();
        _tokens = Math.Min(_burst, _tokens + clock.GetElapsedTime(_last, now).TotalSeconds * bytesPerSecond);
        _last = now;
        if (_tokens < bytes) return false;
        _tokens -= bytes;
        return true;
    }
}
