using System.Globalization;

namespace VoiceActors.LoadTest.LiveKit;

/// <summary>CPU time and resident memory of one process, read from <c>/proc</c>.</summary>
public readonly record struct ProcSample(int Pid, TimeSpan Cpu, long RssBytes);

/// <summary>
/// Reads processes from <c>/proc</c> by PID: CPU time (user + system) and RSS, and the children of a process with their
/// command lines, so the silo's Node children (the stand-in SFU, the bridge processes) are measured apart from the silo.
/// </summary>
public static class ProcessTree
{
    // USER_HZ is 100 on every Linux ABI .NET runs on (the kernel reports times in it whatever the tick rate).
    private const double TicksPerSecond = 100;
    private static readonly long PageBytes = Environment.SystemPageSize;

    /// <summary>Null when the process is gone.</summary>
    public static ProcSample? Sample(int pid)
    {
        var stat = Stat(pid);
        if (stat is null) return null;
        try
        {
            var statm = File.ReadAllText($"/proc/{pid}/statm").Split(' ');
            return new ProcSample(pid, stat.Value.Cpu, long.Parse(statm[1], CultureInfo.InvariantCulture) * PageBytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>The direct children of <paramref name="parent"/>: PID and command line (arguments joined by spaces).</summary>
    public static List<(int Pid, string CommandLine)> ChildrenOf(int parent)
    {
        var result = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (Stat(pid) is not { } s || s.ParentPid != parent) continue;
            try
            {
                result.Add((pid, File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim()));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // exited between the two reads
            }
        }
        return result;
    }

    /// <summary>The load averages of <c>/proc/loadavg</c> (1, 5, 15 minutes), as <c>uptime</c> prints them.</summary>
    public static double[] LoadAverages()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return [Parse(parts[0]), Parse(parts[1]), Parse(parts[2])];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return [];
        }
        static double Parse(string s) => double.Parse(s, CultureInfo.InvariantCulture);
    }

    private static (int ParentPid, TimeSpan Cpu)? Stat(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        // The command name is in parentheses and may hold spaces: the fields start after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0) return null;
        var f = text[(close + 2)..].Split(' ');
        // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
        if (f.Length < 13) return null;
        var ppid = int.Parse(f[1], CultureInfo.InvariantCulture);
        var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        return (ppid, TimeSpan.FromSeconds(ticks / TicksPerSecond));
    }
}
