package newsflow.analysis;

import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.pattern.PatternTokenizer;
import org.apache.lucene.util.AttributeFactory;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenizerFactory;
import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.IntSetting;
import org.elasticsearch.plugin.settings.StringSetting;

import java.util.regex.Pattern;

/** analysis-common's {@code pattern} tokenizer (Lucene's PatternTokenizer): words split where {@code pattern} matches, or its {@code group} as words. */
@NamedComponent("newsflow_pattern")
public class PatternTokenizerFactory implements TokenizerFactory {

    @AnalysisSettings
    public interface Settings {
        @StringSetting(path = "pattern", defaultValue = "\\W+")
        String pattern();

        @IntSetting(path = "group", defaultValue = -1)
        int group();
    }

    private final Pattern pattern;
    private final int group;

    @Inject
    public PatternTokenizerFactory(Settings settings) {
        this.pattern = Pattern.compile(settings.pattern());
        this.group = settings.group();
    }

    @Override
    public Tokenizer create() {
        return new PatternTokenizer(AttributeFactory.DEFAULT_ATTRIBUTE_FACTORY, pattern, group);
    }
}
