using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The one way this code base registers an options class: bound from its section, validated at start-up by its validator.</summary>
public static class ValidatedOptionsRegistration
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> (named <paramref name="name"/>, default unnamed) to <paramref name="section"/> and
    /// validates it with <typeparamref name="TValidator"/> when the host starts, so a bad setting stops the process with the
    /// validator's message instead of failing on first use. The validator is registered once however often this is called.
    /// </summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions, TValidator>(this IServiceCollection services, string section, string? name = null)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        return services.AddOptions<TOptions>(name ?? Options.Options.DefaultName).BindConfiguration(section).ValidateOnStart();
    }
}
