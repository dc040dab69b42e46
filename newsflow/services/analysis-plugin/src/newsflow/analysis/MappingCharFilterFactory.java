package newsflow.analysis;

import org.apache.lucene.analysis.charfilter.MappingCharFilter;
import org.apache.lucene.analysis.charfilter.NormalizeCharMap;
import org.elasticsearch.plugin.Inject;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.CharFilterFactory;
import org.elasticsearch.plugin.settings.AnalysisSettings;
import org.elasticsearch.plugin.settings.ListSetting;

import java.io.Reader;
import java.util.List;

/**
 * analysis-common's {@code mapping} char filter: {@code mappings} is a list of {@code "from => to"}
 * rules (plain text, no escapes), applied longest match first.
 */
@NamedComponent("newsflow_mapping")
public class MappingCharFilterFactory implements CharFilterFactory {

    @AnalysisSettings
    public interface Settings {
        @ListSetting(path = "mappings")
        List<String> mappings();
    }

    private final NormalizeCharMap map;

    @Inject
    public MappingCharFilterFactory(Settings settings) {
        NormalizeCharMap.Builder builder = new NormalizeCharMap.Builder();
        for (String rule : settings.mappings()) {
            String[] sides = rule.split("=>", -1);
            if (sides.length != 2 || sides[0].isBlank()) {
                throw new IllegalArgumentException("newsflow_mapping: rule [" + rule + "] is not of the form \"from => to\"");
            }
            builder.add(sides[0].strip(), sides[1].strip());
        }
        this.map = builder.build();
    }

    @Override
    public Reader create(Reader reader) {
        return new MappingCharFilter(map, reader);
    }

    @Override
    public Reader normalize(Reader reader) {
        return create(reader);
    }
}
