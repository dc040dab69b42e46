package newsflow.analysis;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.pattern.PatternReplaceFilter;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;
import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.BooleanSetting;
import org.elasticsearch.plugin.settings.StringSetting;

import java.util.regex.Pattern;

/**
 * analysis-common's {@code pattern_replace} token filter (Lucene's PatternReplaceFilter): each word with what
 * {@code pattern}, a java.util.regex expression, matches replaced by {@code replacement} ({@code $1} for a group),
 * every match or, with {@code all} false, the first.
 */
@NamedComponent("newsflow_pattern_replace")
public class PatternReplaceFactory implements TokenFilterFactory {

    @AnalysisSettings
    public interface Settings {
        @StringSetting(path = "pattern", defaultValue = "")
        String pattern();

        @StringSetting(path = "replacement", defaultValue = "")
        String replacement();

        @BooleanSetting(path = "all", defaultValue = true)
        boolean all();
    }

    private final Pattern pattern;
    private final String replacement;
    private final boolean all;

    @Inject
    public PatternReplaceFactory(Settings settings) {
        this.pattern = Pattern.compile(settings.pattern());
        this.replacement = settings.replacement();
        this.all = settings.all();
    }

    @Override
    public TokenStream create(TokenStream input) {
        return new PatternReplaceFilter(input, pattern, replacement, all);
    }
}
