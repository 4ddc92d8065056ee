using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using VoiceActors.Recording;
using VoiceActors.TestSupport;

namespace VoiceActors.Tests.Recording;

/// <summary>
/// The encoder threads' scheduling, read back from the kernel (<c>/proc/self/task/TID/stat</c>, field 41 is the policy):
/// <c>Idle</c> puts each in SCHED_IDLE (a waking audio-path thread preempts it at once); <c>Normal</c>, the default, leaves them
/// as the silo's other threads (a starved low-priority thread would hold every GC of the silo).
/// </summary>
public sealed class RecordingEncoderPriorityTests
{
    private const int SchedOther = 0;
    private const int SchedIdle = 5;

    [Theory]
    [InlineData(EncoderPriority.Idle, SchedIdle)]
    [InlineData(EncoderPriority.Normal, SchedOther)]
    public async Task Encoder_threads_run_in_the_configured_scheduling_class(EncoderPriority priority, int policy)
    {
        Assert.True(OperatingSystem.IsLinux(), "the scheduling class is a Linux feature; CI runs on Linux");
        using var encoders = new RecordingEncoders(Options.Create(new RecordingOptions { EncoderThreads = 2, EncoderPriority = priority }),
            NullLogger<RecordingEncoders>.Instance);
        int[] policies = [];
        await Eventually.UntilAsync(() =>
        {
            var ids = encoders.ThreadIds;
            policies = [.. ids.Select(Policy)];
            return ids.Count == 2 && policies.All(p => p == policy);
        }, TimeSpan.FromSeconds(20), () => $"encoder threads {string.Join(", ", encoders.ThreadIds)} have policies {string.Join(", ", policies)}, expected {policy}");
    }

    [Fact]
    public void Default_leaves_a_core_to_the_audio_path()
    {
        var o = new RecordingOptions();
        Assert.Equal(EncoderPriority.Normal, o.EncoderPriority);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount - 1), o.EncoderThreads);
    }

    private static int Policy(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // after "pid (comm) ": field 3 onwards
        return int.Parse(fields[41 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }
}
