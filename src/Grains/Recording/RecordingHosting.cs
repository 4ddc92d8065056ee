using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using VoiceActors.Recording;

namespace Orleans.Hosting;

public static class RecordingHosting
{
    /// <summary>
    /// Recording of consented interviews: an S3-compatible object store when <c>Recordings:S3:ServiceUrl</c> is set, otherwise a
    /// local directory (embedded default) holding the same sealed objects; the keys; the per-session recorders, encoded and
    /// stored by a worker process started with <paramref name="worker"/>; the reader.
    /// </summary>
    public static ISiloBuilder AddRecordings(this ISiloBuilder silo, IConfiguration config, RecordingWorkerLaunch worker)
    {
        var services = silo.Services;
        services.AddValidatedOptions<RecordingOptions, RecordingOptionsValidator>(RecordingOptions.Section);
        var options = config.GetSection(RecordingOptions.Section).Get<RecordingOptions>() ?? new RecordingOptions();
        if (options.UsesS3) services.TryAddSingleton<IRecordingStore, S3RecordingStore>();
        else services.TryAddSingleton<IRecordingStore, DirectoryRecordingStore>();
        services.AddSingleton<RecordingKeys>();
        services.AddSingleton<RecordingVault>();
        services.AddSingleton(worker);
        services.AddSingleton<RecordingWorkerHost>();
        services.AddSingleton<SessionRecorders>();
        services.AddSingleton<IRecordingReader, RecordingReader>();
        services.TryAddSingleton(TimeProvider.System);
        return silo;
    }
}
